"""
# Residence status reconciliation

Daily reconciliation of foreign employees' residence records in the ERP against the application
statuses of the ISA online residence application system.

1. **extract** the canonical employee, application and timesheet tables from the ERP (`erp_db`);
2. **validate** them with the Great Expectations suites in `expectations/`; failing rows are
   quarantined with a reason, Japanese nationals are ignored, and the counts must add up;
3. **sync_isa_statuses** from the ISA status API (`immigration_api`), in parallel with validation;
4. **reconcile** with the rule catalog as of the data interval end (Japan time);
5. **load** the run, the discrepancies (upserted by stable id) and the quarantine into the
   warehouse (`warehouse`) in one transaction;
6. **alert** compliance owners (routing in `config/owners.yaml` or the `zairyu_sync_owners`
   Variable): critical findings at once, a warning digest, expiry reminders, escalations and
   resolved notices, by e-mail (`smtp_default`) and Slack (`slack_alerts`); each alert at most once;
7. **report**: the run's summary and HTML report (masked PII only), also when alerting failed, so
   undelivered alerts show in it.

Large frames travel as Parquet files in the run directory; XCom carries counts and paths only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, TriggerRule, dag, task

DAG_ID = "residence_status_reconciliation"
DISCREPANCIES_ASSET = Asset("warehouse://zairyu_sync/discrepancies")


def _run_context() -> Any:
    """The run's context (run key, as-of date, run directory) from the Airflow task context."""
    from airflow.sdk import get_current_context

    from zairyu_sync.runs import make_run_context
    from zairyu_sync.schedule import as_of_date

    context = get_current_context()
    interval_end = context.get("data_interval_end") or context["dag_run"].run_after
    return make_run_context(
        pipeline=DAG_ID,
        logical_date=context.get("logical_date") or interval_end,
        as_of=as_of_date(interval_end),
        dag_run_id=context["run_id"],
    )


@dag(
    dag_id=DAG_ID,
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Tokyo"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args={
        "owner": "compliance-data",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
    },
    tags=["zairyu-sync", "compliance", "immigration"],
)
def residence_status_reconciliation() -> None:
    @task
    def extract() -> dict[str, Any]:
        from zairyu_sync.airflow_resources import engine_for_connection
        from zairyu_sync.config import ERP_CONN_ID, policy_from_env
        from zairyu_sync.pipeline import run_extract

        engine = engine_for_connection(ERP_CONN_ID)
        try:
            return run_extract(_run_context(), engine, policy_from_env())
        finally:
            engine.dispose()

    @task
    def validate(extracted: dict[str, Any]) -> dict[str, Any]:
        from zairyu_sync.pipeline import run_validate

        return run_validate(_run_context())

    @task
    def sync_isa_statuses(extracted: dict[str, Any]) -> dict[str, Any]:
        from zairyu_sync.hooks.immigration_api import ImmigrationApiHook
        from zairyu_sync.pipeline import run_isa_sync

        with ImmigrationApiHook().get_conn() as client:
            return run_isa_sync(_run_context(), client)

    @task
    def reconcile(validated: dict[str, Any], isa: dict[str, Any]) -> dict[str, Any]:
        from zairyu_sync.config import policy_from_env
        from zairyu_sync.pipeline import run_reconcile

        return run_reconcile(_run_context(), policy_from_env())

    @task(outlets=[DISCREPANCIES_ASSET])
    def load(
        reconciled: dict[str, Any], validated: dict[str, Any], isa: dict[str, Any]
    ) -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from zairyu_sync.airflow_resources import engine_for_connection
        from zairyu_sync.config import WAREHOUSE_CONN_ID
        from zairyu_sync.pipeline import run_load

        started_at = get_current_context()["dag_run"].start_date
        engine = engine_for_connection(WAREHOUSE_CONN_ID)
        try:
            return run_load(
                _run_context(), engine, started_at=started_at, validated=validated, isa=isa
            )
        finally:
            engine.dispose()

    @task
    def alert(loaded: dict[str, Any]) -> dict[str, Any]:
        from zairyu_sync.airflow_resources import alert_transports, engine_for_connection
        from zairyu_sync.config import WAREHOUSE_CONN_ID
        from zairyu_sync.pipeline import run_alert
        from zairyu_sync.routing import routing_from_airflow

        context = _run_context()
        routing = routing_from_airflow()
        transports, outbox = alert_transports(routing)
        engine = engine_for_connection(WAREHOUSE_CONN_ID)
        try:
            return run_alert(
                context,
                engine,
                transports,
                fallback=outbox,
                report_link=str(context.path("report")),
                routing=routing,
            )
        finally:
            engine.dispose()

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report(loaded: dict[str, Any]) -> dict[str, Any]:
        from zairyu_sync.airflow_resources import engine_for_connection
        from zairyu_sync.config import WAREHOUSE_CONN_ID
        from zairyu_sync.pipeline import run_report

        engine = engine_for_connection(WAREHOUSE_CONN_ID)
        try:
            return run_report(_run_context(), engine, loaded)
        finally:
            engine.dispose()

    extracted = extract()
    validated = validate(extracted)
    isa = sync_isa_statuses(extracted)
    reconciled = reconcile(validated, isa)
    loaded = load(reconciled, validated, isa)
    alert(loaded) >> report(loaded)


residence_status_reconciliation()
