"""Rendering of planned alerts: subjects, ordering, owners, languages, masking, escaping, MIME.

Every digest here comes from :func:`~zairyu_sync.alert_plan.plan_alerts` over a DuckDB warehouse
loaded with :func:`~zairyu_sync.load.load_run` (helpers shared with ``test_alert_smtp``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.test_alert_smtp import (
    CARD,
    D1,
    FALLBACK,
    OWNER_EN,
    OWNER_JA,
    RAW_BIRTH,
    RAW_NAME,
    REMEDIATION,
    ROUTING_YAML,
    finding,
    load_day,
    person,
)
from zairyu_sync.alert import Digest, alert_id, build_message, message_id
from zairyu_sync.alert_plan import plan_alerts
from zairyu_sync.errors import AlertError
from zairyu_sync.load import apply_migrations, warehouse_engine
from zairyu_sync.routing import load_routing

pytestmark = pytest.mark.integration

ROUTING = load_routing(ROUTING_YAML)
FAR = date(2030, 1, 1)  # no expiry reminder is due
LINK = "https://reports.example/run/2026-11-25"
TITLES = {
    "STATUS_EXPIRED": ("Period of stay expired", "在留期間の超過"),
    "EXPIRY_APPROACHING": ("Period of stay expiring", "在留期間の満了が近い"),
}


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = warehouse_engine(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    apply_migrations(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def planned(
    engine: sa.Engine,
    findings: list[dict[str, Any]],
    people: list[dict[str, Any]] | None = None,
    *,
    titles: Mapping[str, tuple[str, str]] = TITLES,
    report_link: str | None = LINK,
) -> list[Digest]:
    """Load ``findings`` as the run of D1 and plan its alerts."""
    run_key = load_day(engine, D1, findings, people or [])
    return plan_alerts(
        engine,
        run_key=run_key,
        as_of=D1,
        routing=ROUTING,
        rule_titles=titles,
        remediation=REMEDIATION,
        report_link=report_link,
    )


def test_one_message_per_owner_and_kind_with_counts_in_the_subject(
    warehouse: sa.Engine,
) -> None:
    digests = planned(
        warehouse,
        [
            finding("1", OWNER_JA),
            finding("2", OWNER_JA, severity="warning", rule_code="EXPIRY_APPROACHING"),
            finding("3", OWNER_JA),
            finding("4", OWNER_EN, severity="warning", rule_code="EXPIRY_APPROACHING"),
            finding("5", OWNER_EN, severity="info"),
        ],
    )

    assert [(d.kind, d.recipient, d.finding_ids) for d in digests] == [
        ("critical", OWNER_JA, ("1", "3")),
        ("warning_digest", OWNER_JA, ("2",)),
        ("warning_digest", OWNER_EN, ("4",)),
    ], "info findings are not alerted"
    assert [d.subject for d in digests] == [
        "[zairyu-sync] 重大 2件 / 2 critical — 在留資格の照合 2026-11-25",
        "[zairyu-sync] 警告 1件 / 1 warning — 在留資格の照合 2026-11-25",
        "[zairyu-sync] 1 warning / 警告 1件 — residence status check 2026-11-25",
    ]
    assert "重大 2件" in digests[0].text_body and "2 critical" in digests[0].text_body


def test_critical_alerts_first_then_by_due_date_undated_last(warehouse: sa.Engine) -> None:
    digests = planned(
        warehouse,
        [
            finding("w-early", OWNER_JA, severity="warning", due_date=date(2026, 11, 26)),
            finding("c-none", OWNER_JA, due_date=None),
            finding("c-late", OWNER_JA, due_date=date(2026, 12, 31)),
            finding("c-early", OWNER_JA, due_date=date(2026, 12, 1)),
            finding("w-none", OWNER_JA, severity="warning", due_date=None),
        ],
    )

    assert [(d.kind, d.finding_ids) for d in digests] == [
        ("critical", ("c-early", "c-late", "c-none")),
        ("warning_digest", ("w-early", "w-none")),
    ]
    text = digests[0].text_body
    assert text.index("Ec-early") < text.index("Ec-late") < text.index("Ec-none")
    assert "対応期限: 2026-12-01" in text and "Due: 2026-12-01" in text
    assert "対応期限: なし" in text and "Due: none" in text


@pytest.mark.parametrize("missing", [None, "", "   ", "nobody-configured@example.com"], ids=repr)
def test_findings_without_a_known_owner_go_to_the_fallback_owner(
    warehouse: sa.Engine, missing: str | None
) -> None:
    digests = planned(warehouse, [finding("1", missing), finding("2", OWNER_JA)])

    assert {d.recipient: d.finding_ids for d in digests} == {FALLBACK: ("1",), OWNER_JA: ("2",)}


def test_bodies_in_the_owner_language_first_with_rule_titles_and_report_link(
    warehouse: sa.Engine,
) -> None:
    digests = planned(
        warehouse,
        [
            finding("1", OWNER_JA, receipt_number="R-2026-001"),
            finding("2", OWNER_JA, severity="warning", rule_code="NEW_RULE"),
            finding("3", OWNER_EN),
        ],
    )
    critical_ja, critical_en, warning_ja = digests

    for body in (critical_ja.text_body, critical_ja.html_body):
        assert body.index("在留期間の超過") < body.index("Period of stay expired")
        assert body.index("直ちに就労を停止する") < body.index("Stop the work now")
        assert "重大 1件" in body and "1 critical" in body and "R-2026-001" in body
        assert "E1" in body and "E3" not in body
    for body in (critical_en.text_body, critical_en.html_body):
        assert body.index("Period of stay expired") < body.index("在留期間の超過")
    assert "[重大] 在留期間の超過" in critical_ja.text_body
    assert "[CRITICAL] Period of stay expired" in critical_ja.text_body
    assert "[警告] NEW_RULE" in warning_ja.text_body, "an unknown rule code is shown as is"
    assert "[WARNING] NEW_RULE" in warning_ja.text_body
    assert f"レポート: {LINK}" in critical_ja.text_body
    assert f"Report: {LINK}" in critical_ja.text_body
    assert f'<a href="{LINK}">' in critical_ja.html_body
    assert critical_ja.html_body.count('<section lang="') == 2
    assert '<html lang="ja">' in critical_ja.html_body
    assert '<html lang="en">' in critical_en.html_body


def test_personal_data_is_masked_everywhere(warehouse: sa.Engine) -> None:
    digests = planned(
        warehouse,
        [
            finding(
                "1",
                OWNER_JA,
                employee_id="E1",
                receipt_number="XY11112222ZZ",
                detail=f"card {CARD} does not match ISA's CD87654321EF",
            )
        ],
        [person("E1", OWNER_JA, FAR)],
        titles={"STATUS_EXPIRED": ("Expired, ISA card CD87654321EF", "超過 CD87654321EF")},
    )

    (digest,) = digests
    rendered = (digest.subject, digest.text_body, digest.html_body, repr(digest.items))
    for content in rendered:
        for raw in (CARD, "CD87654321EF", "XY11112222ZZ", RAW_NAME, RAW_BIRTH):
            assert raw not in content
    assert "在留カード番号（マスク）: AB******CD" in digest.text_body
    assert "氏名（マスク）: N. V. A." in digest.text_body
    assert "XY******ZZ" in digest.html_body and "CD******EF" in digest.text_body
    assert digest.items[0]["在留カード番号（マスク）"] == "AB******CD"


def test_html_is_escaped_and_only_web_links_become_anchors(warehouse: sa.Engine) -> None:
    markup = '<script>alert("x")</script> & <b>co</b>'
    (digest,) = planned(
        warehouse,
        [finding("1", OWNER_JA, receipt_number=markup)],
        titles={"STATUS_EXPIRED": (markup, markup)},
        report_link="javascript:alert(1)",
    )

    assert "<script>" not in digest.html_body and "<b>co" not in digest.html_body
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;"
    assert digest.html_body.count(escaped) == 4, "title and receipt, in both languages"
    assert f"[重大] {markup}" in digest.text_body and f"申請受付番号: {markup}" in digest.text_body
    assert "href=" not in digest.html_body
    assert "javascript:alert(1)" in digest.html_body


def test_nothing_to_report_plans_nothing(warehouse: sa.Engine) -> None:
    digests = planned(
        warehouse,
        [finding("1", OWNER_JA, severity="info")],
        [person("E1", OWNER_JA, FAR)],
    )

    assert digests == []


def test_a_warehouse_without_the_schema_is_refused(tmp_path: Path) -> None:
    engine = warehouse_engine(f"duckdb:///{tmp_path / 'empty.duckdb'}")
    try:
        with pytest.raises(AlertError, match="planning alerts failed"):
            plan_alerts(
                engine,
                run_key="residence_status_reconciliation/2026-11-25",
                as_of=D1,
                routing=ROUTING,
                rule_titles=TITLES,
                remediation=REMEDIATION,
                report_link=None,
            )
    finally:
        engine.dispose()


def test_alert_ids_are_stable_and_independent_of_finding_order(warehouse: sa.Engine) -> None:
    (digest,) = planned(warehouse, [finding("b", OWNER_JA), finding("a", OWNER_JA)])
    replanned = plan_alerts(
        warehouse,
        run_key="residence_status_reconciliation/2026-11-25",
        as_of=D1,
        routing=ROUTING,
        rule_titles={},
        remediation={},
        report_link=None,
    )

    expected = alert_id("critical", OWNER_JA.upper(), ["b", "a"])
    assert digest.keys == ("a", "b") and digest.alert_id == expected
    assert [d.alert_id for d in replanned] == [expected], "texts do not change the id"
    assert expected != alert_id("warning_digest", OWNER_JA, ["a", "b"])
    assert expected != alert_id("critical", OWNER_EN, ["a", "b"])
    assert expected != alert_id("critical", OWNER_JA, ["a"])
    assert expected != alert_id("critical", OWNER_JA, ["a", "b"], "slack")


def test_message_is_multipart_alternative_utf8(warehouse: sa.Engine) -> None:
    (digest,) = planned(warehouse, [finding("1", OWNER_JA)])

    raw = bytes(build_message(digest, sender="zairyu-sync@example.com"))
    parsed = message_from_bytes(raw, policy=policy.default)

    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["To"] == OWNER_JA and parsed["From"] == "zairyu-sync@example.com"
    assert parsed["Subject"] == digest.subject
    assert parsed["X-Zairyu-Alert-Id"] == digest.alert_id
    assert parsed["Message-ID"] == message_id(digest.alert_id)
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert plain.get_content() == digest.text_body.replace("\r\n", "\n")
    assert "在留期間の超過" in html.get_content()
