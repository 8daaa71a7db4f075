"""DAG integrity: every DAG file imports, does no I/O at parse time, and follows the conventions."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest

pytestmark = pytest.mark.dags

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(path for path in DAGS_DIR.glob("*.py") if not path.name.startswith("_"))


def _dagbag(path: Path):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(path))


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_errors(path: Path) -> None:
    bag = _dagbag(path)
    assert bag.import_errors == {}
    assert bag.dag_ids, f"{path.name} defines no DAG"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_looks_up_no_connection_or_variable(path: Path) -> None:
    from airflow.sdk import BaseHook, Variable

    with (
        mock.patch.object(BaseHook, "get_connection") as get_connection,
        mock.patch.object(Variable, "get") as get_variable,
    ):
        _dagbag(path)
    assert get_connection.call_count == 0, "connections must not be looked up at parse time"
    assert get_variable.call_count == 0, "variables must not be read at parse time"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_conventions(path: Path) -> None:
    bag = _dagbag(path)
    for dag in bag.dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md, f"{dag.dag_id} has no documentation"
        assert dag.catchup is False
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag.dag_id}.{task.task_id} retries < 2"
            assert task.owner and task.owner != "airflow", f"{task.task_id} has no owner"


def test_reconciliation_task_graph() -> None:
    bag = _dagbag(DAGS_DIR / "residence_status_reconciliation.py")
    dag = bag.dags["residence_status_reconciliation"]
    graph = {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}
    assert graph == {
        "plan_shards": ["extract"],
        "extract": ["index_roster"],
        "index_roster": ["load", "reconcile_roster", "sync_isa_statuses", "validate"],
        "validate": ["load", "reconcile"],
        "sync_isa_statuses": ["load", "reconcile"],
        "reconcile": ["reconcile_roster"],
        "reconcile_roster": ["load"],
        "load": ["alert", "report"],
        "alert": ["report"],
        "report": [],
    }
    mapped = {task.task_id for task in dag.tasks if getattr(task, "is_mapped", False)}
    assert mapped == {"extract", "validate", "reconcile"}
    assert dag.schedule == "@daily" or str(dag.timetable.summary) == "@daily"
    assert str(dag.get_task("report").trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")
    load = dag.get_task("load")
    assert [outlet.uri for outlet in load.outlets] == ["warehouse://zairyu_sync/discrepancies"]
