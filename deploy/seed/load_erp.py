"""Load the generated sample ERP into the stack's PostgreSQL ``erp`` database.

Called by ``seed_stack.sh`` with the same size, random seed and as-of date as ``zairyu-sync
seed``, so the ERP rows match the ISA simulator seed. Connection settings come from the
environment (``ERP_DB_HOST``, ``ERP_DB_PORT``, ``ERP_DB_NAME``, ``ERP_DB_USER``,
``ERP_DB_PASSWORD``).
"""

from __future__ import annotations

import argparse
import logging
import os
from datetime import date

import sqlalchemy as sa

from zairyu_sync.erp_sample import generate_sample, write_erp

log = logging.getLogger(__name__)


def erp_url() -> sa.URL:
    """The ERP database URL from ``ERP_DB_*`` variables (the password is never logged)."""
    return sa.URL.create(
        "postgresql+psycopg",
        username=os.environ.get("ERP_DB_USER", "erp"),
        password=os.environ["ERP_DB_PASSWORD"],
        host=os.environ.get("ERP_DB_HOST", "postgres"),
        port=int(os.environ.get("ERP_DB_PORT", "5432")),
        database=os.environ.get("ERP_DB_NAME", "erp"),
    )


def main() -> int:
    """Generate the sample and write it into the ERP database; returns the exit code."""
    parser = argparse.ArgumentParser(description="Load the sample ERP into PostgreSQL.")
    parser.add_argument("--employees", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    sample = generate_sample(args.employees, as_of=args.as_of, seed=args.seed)
    engine = sa.create_engine(erp_url())
    try:
        written = write_erp(sample, engine)
    finally:
        engine.dispose()
    log.info("sample ERP loaded into %s: %s", engine.url.render_as_string(), written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
