"""Rendering of alert digests: subjects, ordering, owners, masking and HTML escaping."""

from __future__ import annotations

from datetime import date
from email import message_from_bytes, policy
from typing import Any

import pandas as pd
import pytest

from zairyu_sync.alert import Digest, alert_id, build_digests, build_message
from zairyu_sync.errors import AlertError

pytestmark = pytest.mark.unit

TITLES = {
    "STATUS_EXPIRED": ("Period of stay expired", "在留期間の超過"),
    "EXPIRY_APPROACHING": ("Period of stay expiring", "在留期間の満了が近い"),
    "WORK_NOT_PERMITTED": ("Work not permitted", "資格外の就労"),
}
OWNER_A = "hr-a@example.com"
OWNER_B = "hr-b@example.com"
FALLBACK = "compliance@example.com"


def row(
    discrepancy_id: str,
    *,
    owner: object = OWNER_A,
    severity: str = "critical",
    rule_code: str = "STATUS_EXPIRED",
    due_date: object = None,
    detail: str = "period of stay ended 2026-11-20",
    employee_id: str | None = None,
    receipt_number: str | None = None,
) -> dict[str, Any]:
    return {
        "discrepancy_id": discrepancy_id,
        "employee_id": employee_id or f"E{discrepancy_id}",
        "organization_id": "ORG1",
        "compliance_owner": owner,
        "rule_code": rule_code,
        "severity": severity,
        "due_date": due_date,
        "receipt_number": receipt_number,
        "detail": detail,
    }


def digests(*rows: dict[str, Any], report_link: str | None = None) -> list[Digest]:
    return build_digests(
        pd.DataFrame(list(rows)),
        rule_titles=TITLES,
        run_label="2026-11-25",
        report_link=report_link,
        fallback_owner=FALLBACK,
    )


def by_recipient(items: list[Digest]) -> dict[str, Digest]:
    return {digest.recipient: digest for digest in items}


def test_one_digest_per_owner_with_severity_counts_in_the_subject() -> None:
    result = digests(
        row("1"),
        row("2", severity="warning", rule_code="EXPIRY_APPROACHING"),
        row("3"),
        row("4", owner=OWNER_B, severity="warning", rule_code="EXPIRY_APPROACHING"),
        row("5", owner=OWNER_B, severity="info"),
    )

    assert [digest.recipient for digest in result] == [OWNER_A, OWNER_B]
    mail = by_recipient(result)
    assert mail[OWNER_A].subject == (
        "[zairyu-sync] 2 critical, 1 warning — residence status findings 2026-11-25"
    )
    assert mail[OWNER_B].subject == (
        "[zairyu-sync] 0 critical, 1 warning — residence status findings 2026-11-25"
    )
    assert mail[OWNER_B].finding_ids == ("4",), "info findings are not alerted"
    assert all(digest.kind == "new_findings" for digest in result)


def test_critical_first_then_by_due_date_undated_last() -> None:
    (digest,) = digests(
        row("w-early", severity="warning", due_date=date(2026, 11, 26)),
        row("c-none", due_date=None),
        row("c-late", due_date=date(2026, 12, 31)),
        row("c-early", due_date=pd.Timestamp("2026-12-01")),
        row("w-none", severity="warning", due_date=pd.NaT),
    )

    assert digest.finding_ids == ("c-early", "c-late", "c-none", "w-early", "w-none")
    text = digest.text_body
    assert text.index("Ec-early") < text.index("Ec-late") < text.index("Ew-early")
    assert "対応期限: 2026-12-01" in text and "Due: 2026-12-01" in text
    assert "対応期限: なし" in text and "Due: none" in text


@pytest.mark.parametrize("missing", [None, "", "   ", float("nan")], ids=repr)
def test_findings_without_an_owner_go_to_the_fallback_owner(missing: object) -> None:
    result = by_recipient(digests(row("1", owner=missing), row("2")))

    assert result[FALLBACK].finding_ids == ("1",)
    assert result[OWNER_A].finding_ids == ("2",)


def test_bodies_are_japanese_first_then_english_with_rule_titles() -> None:
    (digest,) = digests(
        row("1", rule_code="WORK_NOT_PERMITTED", receipt_number="R-2026-001"),
        row("2", severity="warning", rule_code="NEW_RULE"),
        report_link="https://reports.example/run/2026-11-25",
    )

    for body in (digest.text_body, digest.html_body):
        assert body.index("資格外の就労") < body.index("Work not permitted")
        assert "重大 1 件" in body and "警告 1 件" in body
        assert "EW1" not in body and "E1" in body and "R-2026-001" in body
        assert "NEW_RULE" in body, "an unknown rule code is shown as is"
    assert "[重大] 資格外の就労" in digest.text_body
    assert "[CRITICAL] Work not permitted" in digest.text_body
    assert "Report: https://reports.example/run/2026-11-25" in digest.text_body
    assert '<a href="https://reports.example/run/2026-11-25">' in digest.html_body


def test_card_numbers_are_masked_everywhere() -> None:
    (digest,) = digests(
        row("1", detail="card AB12345678CD does not match ISA's CD87654321EF"),
        row("2", employee_id="XY11112222ZZ"),
    )

    for body in (digest.text_body, digest.html_body, digest.subject):
        assert "AB12345678CD" not in body and "CD87654321EF" not in body
        assert "XY11112222ZZ" not in body
    assert "card AB******CD does not match ISA's CD******EF" in digest.text_body
    assert "XY******ZZ" in digest.html_body


def test_html_is_escaped_and_only_web_links_become_anchors() -> None:
    (digest,) = digests(
        row("1", detail='<script>alert("x")</script> & <b>co</b>'),
        report_link="javascript:alert(1)",
    )

    assert "<script>" not in digest.html_body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;" in (
        digest.html_body
    )
    assert '<script>alert("x")</script> & <b>co</b>' in digest.text_body
    assert "href=" not in digest.html_body
    assert "javascript:alert(1)" in digest.html_body


def test_nothing_to_report_builds_no_digest() -> None:
    assert digests(row("1", severity="info")) == []
    empty = pd.DataFrame(
        columns=["discrepancy_id", "employee_id", "compliance_owner", "rule_code", "severity"]
    )
    assert (
        build_digests(
            empty, rule_titles=TITLES, run_label="x", report_link=None, fallback_owner=FALLBACK
        )
        == []
    )


def test_a_frame_without_the_owner_column_is_refused() -> None:
    frame = pd.DataFrame([row("1")]).drop(columns=["compliance_owner"])
    with pytest.raises(AlertError, match="compliance_owner"):
        build_digests(
            frame, rule_titles=TITLES, run_label="x", report_link=None, fallback_owner=FALLBACK
        )
    with pytest.raises(AlertError, match="fallback owner"):
        build_digests(
            pd.DataFrame([row("1")]),
            rule_titles=TITLES,
            run_label="x",
            report_link=None,
            fallback_owner=" ",
        )


def test_alert_id_is_stable_and_order_independent() -> None:
    first = alert_id("new_findings", "HR-A@example.com", ["b", "a"])

    assert first == alert_id("new_findings", "hr-a@example.com", ("a", "b"))
    assert len(first) == 64
    assert first != alert_id("new_findings", OWNER_B, ["a", "b"])
    assert first != alert_id("reminder", OWNER_A, ["a", "b"])
    assert first != alert_id("new_findings", OWNER_A, ["a"])
    (digest,) = digests(row("b"), row("a"))
    assert digest.alert_id == first


def test_message_is_multipart_alternative_utf8() -> None:
    (digest,) = digests(row("1"))

    raw = bytes(build_message(digest, sender="zairyu-sync@example.com"))
    parsed = message_from_bytes(raw, policy=policy.default)

    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["To"] == OWNER_A and parsed["From"] == "zairyu-sync@example.com"
    assert parsed["Subject"] == digest.subject
    assert parsed["X-Zairyu-Alert-Id"] == digest.alert_id
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content() == digest.text_body.replace("\r\n", "\n")
    assert "在留期間の超過" in html.get_content()
