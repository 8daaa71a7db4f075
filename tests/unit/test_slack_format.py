"""Block Kit rendering of alert digests for Slack (pure)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from zairyu_sync.alert import Digest
from zairyu_sync.slack_format import (
    MAX_BLOCKS,
    MAX_HEADER_CHARS,
    MAX_SECTION_CHARS,
    digest_payload,
    parse_digest_text,
)

pytestmark = pytest.mark.unit

CARD = "AB12345678CD"
LINK = "https://reports.example/2026-11-25/report.html?owner=a&v=1"


def make_digest(**values: Any) -> Digest:
    """A Digest with the keyword arguments of today's and tomorrow's signature."""
    names = {field.name for field in dataclasses.fields(Digest)}
    if "channel" in names:
        values.setdefault("channel", "slack")
    values.setdefault("recipient", "hr-a@example.com")
    values.setdefault("subject", "[zairyu-sync] 1 critical, 1 warning — findings 2026-11-25")
    values.setdefault("html_body", "<p>unused</p>")
    values.setdefault("finding_ids", ("a1", "a2"))
    return Digest(**values)


def body(count: int, *, link: str | None = LINK, detail: str = "period of stay ended") -> str:
    """A digest body in the shape of the alert template: Japanese, separator, English."""
    ja = [f"[重大] 在留期間の超過 {i}\n  社員番号: E{i}\n  内容: {detail}" for i in range(count)]
    en = [f"[CRITICAL] Period of stay expired {i}\n  Employee ID: E{i}" for i in range(count)]
    ja_report = f"レポート: {link}\n" if link else ""
    en_report = f"Report: {link}\n" if link else ""
    return (
        f"在留資格の照合で、新たに対応が必要な事項が見つかりました。\n重大 {count} 件\n\n"
        + "".join(f"{item}\n\n" for item in ja)
        + f"{ja_report}このメールは zairyu-sync が自動送信しています。\n\n"
        + "-" * 70
        + "\nEnglish\n\nNew residence status findings need action.\n"
        + f"{count} critical\n\n"
        + "".join(f"{item}\n\n" for item in en)
        + f"{en_report}This message was sent automatically by zairyu-sync.\n"
    )


def texts(block: dict[str, Any]) -> list[str]:
    if "text" in block:
        return [block["text"]["text"]]
    return [element["text"] for element in block.get("elements", [])]


def test_parse_pairs_japanese_and_english_paragraph_of_each_finding() -> None:
    parts = parse_digest_text(body(2))

    assert parts.report_link == LINK
    assert parts.intro == (
        "在留資格の照合で、新たに対応が必要な事項が見つかりました。\n重大 2 件",
        "New residence status findings need action.\n2 critical",
    )
    assert parts.findings == (
        "[重大] 在留期間の超過 0\n  社員番号: E0\n  内容: period of stay ended\n\n"
        "[CRITICAL] Period of stay expired 0\n  Employee ID: E0",
        "[重大] 在留期間の超過 1\n  社員番号: E1\n  内容: period of stay ended\n\n"
        "[CRITICAL] Period of stay expired 1\n  Employee ID: E1",
    )
    assert parts.notes == (
        "このメールは zairyu-sync が自動送信しています。",
        "This message was sent automatically by zairyu-sync.",
    )


def test_parse_without_separator_keeps_each_finding_paragraph() -> None:
    parts = parse_digest_text("Two findings\n\n[A] one\n  x\n\n[B] two\n\nReport: r.html\nbye\n")

    assert parts.intro == ("Two findings",)
    assert parts.findings == ("[A] one\n  x", "[B] two")
    assert parts.notes == ("bye",)
    assert parts.report_link == "r.html"


def test_payload_has_header_intro_one_section_per_finding_and_context() -> None:
    payload = digest_payload(make_digest(text_body=body(2)))
    blocks = payload["blocks"]

    assert [block["type"] for block in blocks] == [
        "header",
        "section",
        "divider",
        "section",
        "section",
        "context",
    ]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "[zairyu-sync] 1 critical, 1 warning — findings 2026-11-25",
        "emoji": False,
    }
    assert blocks[3]["text"]["type"] == "plain_text"
    assert blocks[3]["text"]["text"].startswith("[重大] 在留期間の超過 0\n")
    assert "[CRITICAL] Period of stay expired 1" in blocks[4]["text"]["text"]
    context = blocks[5]["elements"]
    assert context[0]["text"] == "宛先 / For: hr-a@example.com"
    assert context[1] == {
        "type": "mrkdwn",
        "text": "レポート / Report: <https://reports.example/2026-11-25/report.html?owner=a&amp;v=1>",
    }
    assert payload["text"].startswith("[zairyu-sync] 1 critical, 1 warning — findings 2026-11-25\n")
    assert "重大 2 件" in payload["text"]


def test_card_numbers_are_masked_everywhere() -> None:
    digest = make_digest(subject=f"about {CARD}", text_body=body(1, detail=f"ERP card {CARD}"))

    rendered = json.dumps(digest_payload(digest), ensure_ascii=False)

    assert CARD not in rendered
    assert rendered.count("AB******CD") == 3  # header, fallback text, finding section


def test_too_many_findings_are_cut_to_fifty_blocks_with_a_more_line_and_link() -> None:
    payload = digest_payload(make_digest(text_body=body(120)))
    blocks = payload["blocks"]

    assert len(blocks) == MAX_BLOCKS
    findings = [b for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("[")]
    assert len(findings) == MAX_BLOCKS - 5  # header, intro, divider, "more", context
    more = blocks[-2]["text"]
    hidden = 120 - len(findings)
    assert more["type"] == "mrkdwn"
    assert more["text"] == (
        f"…他 {hidden} 件 / …and {hidden} more — レポート / report: "
        "<https://reports.example/2026-11-25/report.html?owner=a&amp;v=1>"
    )
    assert blocks[-1]["type"] == "context"


def test_exactly_as_many_findings_as_fit_need_no_more_line() -> None:
    fitting = MAX_BLOCKS - 4
    blocks = digest_payload(make_digest(text_body=body(fitting)))["blocks"]

    assert len(blocks) == MAX_BLOCKS
    assert not any("more" in text for block in blocks for text in texts(block))


def test_more_line_without_report_link_points_to_the_mail() -> None:
    blocks = digest_payload(make_digest(text_body=body(60, link=None)))["blocks"]

    more = blocks[-2]["text"]
    assert more["type"] == "plain_text"
    assert more["text"].startswith("…他 15 件 / …and 15 more")


def test_long_texts_are_cut_to_slack_limits() -> None:
    digest = make_digest(subject="S" * 400, text_body=body(1, detail="x" * 5000))

    blocks = digest_payload(digest)["blocks"]

    assert len(blocks[0]["text"]["text"]) == MAX_HEADER_CHARS
    assert blocks[0]["text"]["text"].endswith("…")
    assert len(blocks[3]["text"]["text"]) == MAX_SECTION_CHARS
    assert blocks[3]["text"]["text"].endswith("…")


def test_slack_markup_in_data_stays_plain_text() -> None:
    digest = make_digest(text_body=body(1, detail="<!channel> *urgent*"))

    finding = digest_payload(digest)["blocks"][3]["text"]

    assert finding["type"] == "plain_text"
    assert "<!channel> *urgent*" in finding["text"]


def test_non_http_report_link_is_shown_as_code_not_a_link() -> None:
    blocks = digest_payload(make_digest(text_body=body(1, link="runs/2026-11-25/report.html")))[
        "blocks"
    ]

    assert blocks[-1]["elements"][1] == {
        "type": "mrkdwn",
        "text": "レポート / Report: `runs/2026-11-25/report.html`",
    }


def test_body_without_findings_is_one_intro_section() -> None:
    blocks = digest_payload(make_digest(text_body="Nothing new today.\n"))["blocks"]

    assert [block["type"] for block in blocks] == ["header", "section", "context"]
    assert blocks[1]["text"]["text"] == "Nothing new today."


def test_reminders_in_english_first_order_without_indented_lines_pair_up() -> None:
    text = (
        "Periods of stay end soon (as of 2026-11-25)\n2 reminders\n\n"
        "Period of stay ending soon\nEmployee ID: E1\nDays left: 30 days\n\n"
        "Period of stay ending soon\nEmployee ID: E2\nDays left: 14 days\n\n"
        "Report: https://r.example/x\nThis message was sent automatically by zairyu-sync.\n\n"
        + "-"
        * 70
        + "\n日本語\n\n在留期間の満了が近づいています（基準日 2026-11-25）\nリマインダー 2 件\n\n"
        "在留期間の満了が近い\n社員番号: E1\n残り日数: 30日\n\n"
        "在留期間の満了が近い\n社員番号: E2\n残り日数: 14日\n\n"
        "レポート: https://r.example/x\nこのメールは zairyu-sync が自動送信しています。\n"
    )

    parts = parse_digest_text(text)

    assert parts.intro == (
        "Periods of stay end soon (as of 2026-11-25)\n2 reminders",
        "在留期間の満了が近づいています（基準日 2026-11-25）\nリマインダー 2 件",
    )
    assert parts.findings == (
        "Period of stay ending soon\nEmployee ID: E1\nDays left: 30 days\n\n"
        "在留期間の満了が近い\n社員番号: E1\n残り日数: 30日",
        "Period of stay ending soon\nEmployee ID: E2\nDays left: 14 days\n\n"
        "在留期間の満了が近い\n社員番号: E2\n残り日数: 14日",
    )
    assert parts.notes == (
        "This message was sent automatically by zairyu-sync.",
        "このメールは zairyu-sync が自動送信しています。",
    )
    assert parts.report_link == "https://r.example/x"


def test_halves_with_different_item_counts_keep_every_paragraph() -> None:
    text = "ja intro\n\n[A] a\n\n[B] b\n\nja note\n" + "-" * 20 + "\nen intro\n\n[A] a\n\nen note\n"

    assert parse_digest_text(text).findings == ("[A] a", "[B] b", "[A] a")
