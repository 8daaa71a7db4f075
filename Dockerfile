# One image for every Airflow service of the production-like stack and for the ISA API simulator.
# Build context: the repository root (see docker-compose.yml).
FROM apache/airflow:3.3.2-python3.11

ENV ZAIRYU_PROJECT_ROOT=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins

USER airflow
WORKDIR /opt/airflow

# Dependencies first (pinned by the project's constraints), so code edits keep this layer cached.
COPY --chown=airflow:0 pyproject.toml README.md constraints.txt /opt/airflow/build/
COPY --chown=airflow:0 plugins/ /opt/airflow/build/plugins/
RUN pip install --no-cache-dir -c /opt/airflow/build/constraints.txt \
        "apache-airflow==3.3.2" /opt/airflow/build \
    && rm -rf /opt/airflow/build

# Code and project files: project_root() is ZAIRYU_PROJECT_ROOT=/opt/airflow.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 sql/ /opt/airflow/sql/
COPY --chown=airflow:0 expectations/ /opt/airflow/expectations/
COPY --chown=airflow:0 config/ /opt/airflow/config/
COPY --chown=airflow:0 deploy/seed/ /opt/airflow/deploy/seed/

# Mount points of the named volumes: created here so the volumes start owned by airflow.
RUN mkdir -p /opt/airflow/runs /opt/airflow/seed
