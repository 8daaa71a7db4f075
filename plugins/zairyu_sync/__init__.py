"""zairyu-sync: keeps foreign-employee records honest against ISA application statuses.

The package is usable without a running Airflow: each pipeline stage is a module with one or two
typed public functions (`extract`, `validate`, `immigration`, `reconcile`, `load`, `alert`), and the
Airflow DAG in ``dags/`` only wires them together.
"""

from __future__ import annotations

__version__ = "0.1.0"
