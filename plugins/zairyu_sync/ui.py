"""Compliance pages for the Airflow UI: run reports and the open-discrepancy queue.

:func:`create_app` builds a small FastAPI app that the Airflow plugin mounts under
``/zairyu-sync``; it is importable and testable without Airflow's plugin manager. Nothing is read
at import or creation time: the run directory and the warehouse are resolved per request, and
every warehouse engine is disposed when its request ends.

Routes: ``/`` (index), ``/report`` (latest run's ``report.html``), ``/runs/{as_of}/report``,
``/discrepancies`` (HTML) and ``/api/discrepancies`` (JSON), both filterable by ``owner`` and
``severity``. Only the masked finding detail is shown; card numbers are redacted again on output.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import jinja2
import sqlalchemy as sa
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from markupsafe import Markup
from sqlalchemy.pool import NullPool

from zairyu_sync.canonical import SEVERITIES
from zairyu_sync.config import WAREHOUSE_CONN_ID, run_root as default_run_root
from zairyu_sync.errors import ZairyuSyncError
from zairyu_sync.pii import redact_card_numbers

log = logging.getLogger(__name__)

#: The DAG whose run directories hold the reports.
DAG_ID = "residence_status_reconciliation"
#: Most rows one discrepancy page or API call returns.
MAX_ROWS = 5000
DEFAULT_ROWS = 500

_AS_OF = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COLUMNS = (
    "compliance_owner",
    "severity",
    "rule_code",
    "employee_id",
    "organization_id",
    "due_date",
    "receipt_number",
    "detail",
    "discrepancy_id",
    "first_seen_on",
    "last_seen_on",
)
_OPEN_DISCREPANCIES = sa.table(
    "open_discrepancies", *(sa.column(name) for name in (*_COLUMNS, "severity_rank"))
)

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} — zairyu-sync</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2933}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #cbd2d9;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f4f8}.critical{color:#b00020;font-weight:600}.warning{color:#8a5a00}
form{margin:.75rem 0}
</style></head><body>
<h1>{{ title }}</h1>
{{ body }}
</body></html>
"""
_INDEX = """<p>Residence status reconciliation against the Immigration Services Agency.</p>
<ul>
<li><a href="{{ base }}/report">Latest run report</a>{% if latest %} ({{ latest }}){% endif %}</li>
<li><a href="{{ base }}/discrepancies">Open discrepancies</a>
 (<a href="{{ base }}/api/discrepancies">JSON</a>)</li>
</ul>
{% if runs %}<h2>Runs</h2><ul>
{% for day in runs %}<li><a href="{{ base }}/runs/{{ day }}/report">{{ day }}</a></li>{% endfor %}
</ul>{% else %}<p>No run report yet.</p>{% endif %}
"""
_TABLE = """<p><a href="{{ base }}/">Index</a> · {{ rows|length }} open finding(s){% if truncated %}
 (first {{ rows|length }} shown){% endif %}</p>
<form method="get">
<label>Owner <input name="owner" value="{{ owner or '' }}"></label>
<label>Severity <select name="severity"><option value="">any</option>
{% for sev in severities %}<option{% if sev == severity %} selected{% endif %}>{{ sev }}</option>
{% endfor %}</select></label>
<button type="submit">Filter</button></form>
<table><thead><tr>{% for col in columns %}<th>{{ col }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr>{% for col in columns %}<td{% if col == 'severity' %}
 class="{{ row[col] }}"{% endif %}>{{ row[col] if row[col] is not none else '' }}</td>
{% endfor %}</tr>
{% endfor %}</tbody></table>
"""
_MESSAGE = """<p>{{ message }}</p><p><a href="{{ base }}/">Index</a></p>"""


class WarehouseUnavailable(ZairyuSyncError):
    """The warehouse cannot be read (not configured, not reachable or not migrated)."""


def create_app(
    *,
    run_root: Path | None = None,
    warehouse_url: str | None = None,
    dependencies: Sequence[Any] = (),
) -> FastAPI:
    """Build the compliance UI app.

    Args:
        dependencies: FastAPI dependencies applied to every route (the plugin passes Airflow's
            authentication check, so the pages are only served to signed-in users).
        run_root: the run root (``<run_root>/<dag_id>/<as-of>/report.html``); default
            :func:`zairyu_sync.config.run_root`, resolved per request.
        warehouse_url: a SQLAlchemy URL of the warehouse; default the Airflow ``warehouse``
            connection, resolved per request.

    Returns:
        The FastAPI app (no I/O has happened yet).
    """
    app = FastAPI(
        title="zairyu-sync reports",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=list(dependencies),
    )

    def reports_dir() -> Path:
        return (run_root if run_root is not None else default_run_root()) / DAG_ID

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        runs = report_dates(reports_dir())
        body = _ENV.from_string(_INDEX).render(
            base=_base(request), runs=runs, latest=runs[0] if runs else None
        )
        return _page("Residence compliance", body)

    @app.get("/report", response_class=HTMLResponse)
    def latest_report(request: Request) -> HTMLResponse:
        runs = report_dates(reports_dir())
        if not runs:
            return _message(request, "No run report yet", "No run has written a report.", 404)
        return _report(reports_dir() / runs[0] / "report.html")

    @app.get("/runs/{as_of}/report", response_class=HTMLResponse)
    def dated_report(request: Request, as_of: str) -> HTMLResponse:
        day = parse_as_of(as_of)
        if day is None:
            return _message(request, "Not a date", "The run date must be YYYY-MM-DD.", 422)
        path = reports_dir() / day.isoformat() / "report.html"
        if not path.is_file():
            return _message(request, "No report", f"No report for {day.isoformat()}.", 404)
        return _report(path)

    @app.get("/discrepancies", response_class=HTMLResponse)
    def discrepancies_page(
        request: Request,
        owner: Annotated[str | None, Query(max_length=254)] = None,
        severity: Annotated[str | None, Query(max_length=16)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = DEFAULT_ROWS,
    ) -> HTMLResponse:
        owner, severity = owner or None, severity or None
        if severity is not None and severity not in SEVERITIES:
            return _message(
                request, "Unknown severity", f"Use one of {', '.join(SEVERITIES)}.", 422
            )
        try:
            rows = read_open_discrepancies(
                warehouse_url, owner=owner, severity=severity, limit=limit + 1
            )
        except WarehouseUnavailable as exc:
            return _message(request, "Warehouse unavailable", str(exc), 503)
        body = _ENV.from_string(_TABLE).render(
            base=_base(request),
            rows=rows[:limit],
            truncated=len(rows) > limit,
            columns=_COLUMNS,
            owner=owner,
            severity=severity,
            severities=SEVERITIES,
        )
        return _page("Open discrepancies", body)

    @app.get("/api/discrepancies")
    def discrepancies_json(
        owner: Annotated[str | None, Query(max_length=254)] = None,
        severity: Annotated[str | None, Query(max_length=16)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = DEFAULT_ROWS,
    ) -> JSONResponse:
        owner, severity = owner or None, severity or None
        if severity is not None and severity not in SEVERITIES:
            return JSONResponse({"error": f"severity must be one of {list(SEVERITIES)}"}, 422)
        try:
            rows = read_open_discrepancies(
                warehouse_url, owner=owner, severity=severity, limit=limit + 1
            )
        except WarehouseUnavailable as exc:
            return JSONResponse({"error": str(exc)}, 503)
        return JSONResponse(
            {
                "filters": {"owner": owner, "severity": severity},
                "count": min(len(rows), limit),
                "truncated": len(rows) > limit,
                "discrepancies": rows[:limit],
            }
        )

    return app


def parse_as_of(text: str) -> date | None:
    """``text`` as a date if it is exactly ``YYYY-MM-DD`` and a real calendar day, else None."""
    if not _AS_OF.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def report_dates(reports_dir: Path) -> list[str]:
    """As-of dates (newest first) whose run directory holds a ``report.html``."""
    if not reports_dir.is_dir():
        return []
    days = [
        entry.name
        for entry in reports_dir.iterdir()
        if parse_as_of(entry.name) is not None and (entry / "report.html").is_file()
    ]
    return sorted(days, reverse=True)


def read_open_discrepancies(
    warehouse_url: str | None,
    *,
    owner: str | None = None,
    severity: str | None = None,
    limit: int = DEFAULT_ROWS,
) -> list[dict[str, Any]]:
    """Open findings from the ``open_discrepancies`` view, most urgent first.

    Args:
        warehouse_url: the warehouse URL, or None for the Airflow ``warehouse`` connection.
        owner: only this compliance owner (``(no owner)`` for findings without one).
        severity: only this severity.
        limit: at most this many rows.

    Returns:
        One dict per finding (dates as ISO text; card numbers in ``detail`` redacted).

    Raises:
        WarehouseUnavailable: the warehouse cannot be opened or has no reconciliation tables.
    """
    view = _OPEN_DISCREPANCIES
    query = sa.select(*(view.c[name] for name in _COLUMNS))
    if owner is not None:
        query = query.where(view.c.compliance_owner == owner)
    if severity is not None:
        query = query.where(view.c.severity == severity)
    query = query.order_by(
        view.c.severity_rank, view.c.due_date, view.c.rule_code, view.c.discrepancy_id
    ).limit(limit)
    try:
        with _warehouse(warehouse_url) as engine, engine.connect() as conn:
            result = conn.execute(query).mappings().all()
    except sa.exc.SQLAlchemyError as exc:
        log.warning("cannot read open discrepancies: %s", type(exc).__name__)
        raise WarehouseUnavailable(
            "the warehouse cannot be read (no run loaded yet, or it is unreachable)"
        ) from exc
    except Exception as exc:  # duckdb raises its own errors when the file is locked or missing
        if isinstance(exc, WarehouseUnavailable):
            raise
        log.warning("cannot open the warehouse: %s", type(exc).__name__)
        raise WarehouseUnavailable(
            f"the warehouse cannot be opened ({type(exc).__name__})"
        ) from exc
    return [{name: _json_value(name, row[name]) for name in _COLUMNS} for row in result]


@contextmanager
def _warehouse(warehouse_url: str | None) -> Iterator[sa.Engine]:
    """A read-only (where the database allows it) engine, disposed on exit."""
    if warehouse_url is not None:
        engine = _read_only_engine(sa.make_url(warehouse_url))
    else:
        try:
            from zairyu_sync.airflow_resources import engine_for_connection

            configured = engine_for_connection(WAREHOUSE_CONN_ID)
        except Exception as exc:  # noqa: BLE001 - any lookup failure means "not configured"
            raise WarehouseUnavailable(
                f"the {WAREHOUSE_CONN_ID!r} connection is not usable ({type(exc).__name__})"
            ) from exc
        url = configured.url
        if url.get_backend_name() == "duckdb":
            configured.dispose()
            engine = _read_only_engine(url)
        else:
            engine = configured
    try:
        yield engine
    finally:
        engine.dispose()


def _read_only_engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "duckdb":
        database = url.database or ":memory:"
        if database == ":memory:" or not Path(database).is_file():
            raise WarehouseUnavailable("the DuckDB warehouse file does not exist yet")
        return sa.create_engine(url, poolclass=NullPool, connect_args={"read_only": True})
    from zairyu_sync.load import warehouse_engine

    return warehouse_engine(url.render_as_string(hide_password=False))


def _json_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if name == "detail":
        return redact_card_numbers(str(value))
    return value


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = _ENV.from_string(_PAGE).render(title=title, body=Markup(body))
    return HTMLResponse(html, status_code=status_code)


def _message(request: Request, title: str, message: str, status_code: int) -> HTMLResponse:
    body = _ENV.from_string(_MESSAGE).render(base=_base(request), message=message)
    return _page(title, body, status_code)


def _report(path: Path) -> HTMLResponse:
    return HTMLResponse(redact_card_numbers(path.read_text(encoding="utf-8")))
