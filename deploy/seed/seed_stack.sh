#!/usr/bin/env bash
# One-shot seed of the production-like stack (service `isa-seed` in docker-compose.yml):
#   1. `zairyu-sync seed` writes the ISA simulator seed (and a SQLite copy of the sample ERP)
#      into the shared seed volume;
#   2. load_erp.py loads the same sample (same size, random seed and as-of date) into the
#      PostgreSQL `erp` database the DAG extracts from.
# It does nothing when the seed volume already holds a complete seed, so `docker compose up` keeps the
# world; set ZAIRYU_RESEED=1 to regenerate it.
set -euo pipefail

seed_dir="${ZAIRYU_SEED_DIR:?}"
employees="${ZAIRYU_SEED_EMPLOYEES:-2000}"
random_seed="${ZAIRYU_SEED_RANDOM:-7}"

marker="$seed_dir/.seeded"
if [[ -f "$marker" && -s "$seed_dir/isa_seed.json" && "${ZAIRYU_RESEED:-0}" != "1" ]]; then
    echo "seed present in $seed_dir; set ZAIRYU_RESEED=1 to regenerate"
    exit 0
fi

as_of="${ZAIRYU_SEED_AS_OF:-$(python -c 'from zairyu_sync.demo import today_in_japan; print(today_in_japan())')}"

rm -f "$marker"
zairyu-sync seed --demo-dir "$seed_dir" --employees "$employees" --seed "$random_seed" --as-of "$as_of"
python "$(dirname "$0")/load_erp.py" --employees "$employees" --seed "$random_seed" --as-of "$as_of"
# Only a complete seed (simulator file and ERP rows) is kept on the next start.
echo "$as_of" > "$marker"
