#!/usr/bin/env bash
# Runs once, on the first start of the postgres container (empty data volume), as the superuser.
# Creates one database and one owner role each for the Airflow metadata, the sample ERP and the
# warehouse. Passwords come from the environment (.env); psql quotes them as literals (:'var').
set -euo pipefail

: "${AIRFLOW_DB_PASSWORD:?}" "${ERP_DB_PASSWORD:?}" "${WAREHOUSE_DB_PASSWORD:?}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
    -v erp_pw="$ERP_DB_PASSWORD" \
    -v warehouse_pw="$WAREHOUSE_DB_PASSWORD" \
    -f /docker-entrypoint-initdb.d/databases.sql.tmpl
