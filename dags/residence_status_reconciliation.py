"""
# Residence status reconciliation

Daily reconciliation of foreign employees' residence records in the ERP against the application
statuses of the ISA online residence application system.

1. **plan_shards** splits the roster into equal employee-number ranges (param `shards`, else
   `ZAIRYU_SHARDS`, default 4); each shard runs as one mapped task instance per stage, so shards
   run in parallel on the workers;
2. **extract** each shard's canonical employee, application and timesheet tables from the ERP
   (`erp_db`); **index_roster** then collects what spans shards (all receipt numbers, receipt
   numbers held by two shards, row offsets);
3. **validate** each shard with the Great Expectations suites in `expectations/`; failing rows
   are quarantined with a reason, Japanese nationals are ignored, and the counts must add up;
4. **sync_isa_statuses** from the ISA status API (`immigration_api`), in parallel with validation;
5. **reconcile** each shard with the rule catalog as of the data interval end (Japan time), then
   **reconcile_roster** the rules that compare the ISA listing with the whole roster;
6. **load** merges the shards: the run, the discrepancies (upserted by stable id), the quarantine
   and the employee snapshot go into the warehouse (`warehouse`) in one transaction;
7. **alert** compliance owners (routing in `config/owners.yaml` or the `zairyu_sync_owners`
   Variable): critical findings at once, a warning digest, expiry reminders, escalations and
   resolved notices, by e-mail (`smtp_default`) and Slack (`slack_alerts`); each alert at most once;
8. **report**: the run's summary and HTML report (masked PII only), also when alerting failed, so
   undelivered alerts show in it.

Large frames travel as Parquet files in the run directory; XCom carries counts and paths only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, TriggerRule, dag, task

DAG_ID = "residence_status_reconciliation"
DISCREPANCIES_ASSET = Asset("warehouse://zairyu_sync/discrepancies")


def _run_context() -> Any:
    """The run's context (run key, as-of date, run directory) from the Airflow task context."""
    from airflow.sdk import get_current_context

    from zairyu_sync.arrow_memory import use_data_stage_memory_pool
    from zairyu_sync.runs import make_run_context
    from zairyu_sync.schedule import as_of_date

    use_data_stage_memory_pool()  # every task that reads or writes the run's frames gets here
    context = get_current_context()
    interval_end = context.get("data_interval_end") or context["dag_run"].run_after
    return make_run_context(
        pipeline=DAG_ID,
        logical_date=context.get("logical_date") or interval_end,
        as_of=as_of_date(interval_end),
        dag_run_id=context["run_id"],
    )


def _label_shard(shard: dict[str, Any]) -> Any:
    """The shard of a mapped task instance; its label names the instance in the UI."""
    from airflow.sdk import get_current_context

    from zairyu_sync.shards import Shard

    part = Shard.from_dict(shard)
    get_current_context()["shard_label"] = part.label  # type: ignore[typeddict-unknown-key]
    return part


def _shards(indexed: list[dict[str, Any]]) -> list[Any]:
    from zairyu_sync.shards import Shard

    return [Shard.from_dict(plan["shard"]) for plan in indexed]


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
    params={
        "shards": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=256,
            description="Roster shards for this run (None: ZAIRYU_SHARDS, default 4).",
        )
    },
)
def residence_status_reconciliation() -> None:
    @task
    def plan_shards() -> list[dict[str, Any]]:
        from airflow.sdk import get_current_context

        from zairyu_sync.airflow_resources import engine_for_connection
        from zairyu_sync.config import ERP_CONN_ID, shard_count_from_env
        from zairyu_sync.pipeline import run_plan_shards

        wanted = get_current_context()["params"].get("shards") or shard_count_from_env()
        engine = engine_for_connection(ERP_CONN_ID)
        try:
            return run_plan_shards(_run_context(), engine, int(wanted))
        finally:
            engine.dispose()

    @task(map_index_template="{{ shard_label }}")
    def extract(shard: dict[str, Any]) -> dict[str, Any]:
        from zairyu_sync.airflow_resources import engine_for_connection
        from zairyu_sync.config import ERP_CONN_ID, policy_from_env
        from zairyu_sync.pipeline import run_extract

        part = _label_shard(shard)
        engine = engine_for_connection(ERP_CONN_ID)
        try:
            return run_extract(_run_context(), engine, policy_from_env(), part)
        finally:
            engine.dispose()

    @task
    def index_roster(extracted: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from zairyu_sync.pipeline import run_index_roster

        return run_index_roster(_run_context(), list(extracted))

    @task(map_index_template="{{ shard_label }}")
    def validate(shard_plan: dict[str, Any]) -> dict[str, Any]:
        from zairyu_sync.pipeline import run_validate

        _label_shard(shard_plan["shard"])
        return run_validate(_run_context(), shard_plan)

    @task
    def sync_isa_statuses(indexed: list[dict[str, Any]]) -> dict[str, Any]:
        from zairyu_sync.hooks.immigration_api import ImmigrationApiHook
        from zairyu_sync.pipeline import run_isa_sync

        with ImmigrationApiHook().get_conn() as client:
            return run_isa_sync(_run_context(), client, _shards(indexed))

    @task(map_index_template="{{ shard_label }}")
    def reconcile(validated: dict[str, Any], isa: dict[str, Any]) -> dict[str, Any]:
        from zairyu_sync.config import policy_from_env
        from zairyu_sync.pipeline import run_reconcile

        part = _label_shard(validated["shard"])
        return run_reconcile(_run_context(), policy_from_env(), part)

    @task
    def reconcile_roster(
        indexed: list[dict[str, Any]], reconciled: list[dict[str, Any]]
    ) -> dict[str, Any]:
        from zairyu_sync.config import policy_from_env
        from zairyu_sync.pipeline import run_reconcile_roster

        return run_reconcile_roster(_run_context(), policy_from_env(), _shards(indexed))

    @task(outlets=[DISCREPANCIES_ASSET])
    def load(
        indexed: list[dict[str, Any]],
        roster: dict[str, Any],
        validated: list[dict[str, Any]],
        isa: dict[str, Any],
    ) -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from zairyu_sync.airflow_resources import engine_for_connection
        from zairyu_sync.config import WAREHOUSE_CONN_ID
        from zairyu_sync.pipeline import run_load

        started_at = get_current_context()["dag_run"].start_date
        engine = engine_for_connection(WAREHOUSE_CONN_ID)
        try:
            return run_load(
                _run_context(),
                engine,
                started_at=started_at,
                validated=list(validated),
                isa=isa,
                shards=_shards(indexed),
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

    extracted = extract.expand(shard=plan_shards())
    indexed = index_roster(extracted)
    validated = validate.expand(shard_plan=indexed)
    isa = sync_isa_statuses(indexed)
    reconciled = reconcile.partial(isa=isa).expand(validated=validated)
    roster = reconcile_roster(indexed, reconciled)
    loaded = load(indexed, roster, validated, isa)
    alert(loaded) >> report(loaded)


residence_status_reconciliation()
