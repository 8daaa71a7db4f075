"""Airflow hooks. Each module imports Airflow; import them only from DAG tasks and Airflow code."""

from __future__ import annotations
