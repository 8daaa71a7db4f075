"""Slack Block Kit rendering of an alert digest (pure; delivery: :mod:`zairyu_sync.hooks.slack`).

The digest's plain-text body is the source: it holds a Japanese half and an English half separated
by a dashed line (either language may come first), each with an introduction, one paragraph per
finding, a ``レポート:`` / ``Report:`` line and a closing note. A message becomes:

* a ``header`` block with the subject;
* a ``section`` with the introductions;
* a ``section`` per finding or reminder (the paragraphs between a half's first paragraph, the
  introduction, and its last, the closing note): when both halves list the same number, the two
  languages of an item share one section, otherwise each paragraph gets its own;
* when Slack's 50-block limit would be exceeded, a ``…他 N 件 / …and N more`` section with the
  report link instead of the findings that do not fit;
* a ``context`` block with the recipient, the report link and the closing note.

Finding and introduction text goes into ``plain_text`` objects, so nothing in the data is read as
Slack markup (no mentions, no links); only the report link is ``mrkdwn``. Each text is cut to
Slack's limit, and every string of the payload passes :func:`~zairyu_sync.pii.redact_card_numbers`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zairyu_sync.pii import redact_card_numbers

if TYPE_CHECKING:
    from zairyu_sync.alert import Digest

log = logging.getLogger(__name__)

#: Slack accepts at most 50 blocks in a message.
MAX_BLOCKS = 50
#: Slack's limit for the text of a section block.
MAX_SECTION_CHARS = 3000
#: Slack's limit for the text of a header block.
MAX_HEADER_CHARS = 150
#: Slack's limit for the text of one context element.
MAX_CONTEXT_CHARS = 2000
#: Slack allows at most 10 elements in a context block.
MAX_CONTEXT_ELEMENTS = 10
#: Length of the plain ``text`` fallback (shown in notifications).
MAX_FALLBACK_CHARS = 3000

_ELLIPSIS = "…"
_SEPARATOR = re.compile(r"^\s*-{10,}\s*$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_REPORT_LINE = re.compile(r"^\s*(?:Report|レポート)\s*[:：]\s*(?P<link>\S.*?)\s*$")
_LANGUAGE_HEADINGS = frozenset({"English", "日本語"})


@dataclass(frozen=True)
class DigestParts:
    """The pieces of a digest's plain-text body.

    Attributes:
        intro: the paragraphs before the findings (both languages).
        findings: one text per finding (Japanese and English joined when they pair up).
        notes: the closing paragraphs after the findings, without the report line.
        report_link: the report link of the body, or None.
    """

    intro: tuple[str, ...]
    findings: tuple[str, ...]
    notes: tuple[str, ...]
    report_link: str | None


def parse_digest_text(text_body: str) -> DigestParts:
    """Split a digest's plain-text body into introduction, findings, notes and report link.

    Args:
        text_body: the digest's plain-text body.

    Returns:
        The parts. In each half (split at a dashed line), after dropping a language heading and
        the report line: the first paragraph is introduction, the last a note, and those between
        are the items; a half of one or two paragraphs has no items.
    """
    intro: list[str] = []
    notes: list[str] = []
    halves: list[list[str]] = []
    report_link: str | None = None
    for half in _SEPARATOR.split(redact_card_numbers(text_body)):
        paragraphs: list[str] = []
        for raw in _PARAGRAPH_BREAK.split(half):
            lines: list[str] = []
            for line in raw.strip("\n").splitlines():
                match = _REPORT_LINE.match(line)
                if match:
                    report_link = report_link or match.group("link")
                    continue
                lines.append(line.rstrip())
            paragraph = "\n".join(lines).strip("\n")
            if paragraph.strip() and paragraph.strip() not in _LANGUAGE_HEADINGS:
                paragraphs.append(paragraph)
        if len(paragraphs) < 3:
            intro.extend(paragraphs[:1])
            notes.extend(paragraphs[1:])
            continue
        intro.append(paragraphs[0])
        halves.append(paragraphs[1:-1])
        notes.append(paragraphs[-1])
    findings: list[str]
    if len(halves) == 2 and len(halves[0]) == len(halves[1]):
        findings = [f"{first}\n\n{second}" for first, second in zip(*halves, strict=True)]
    else:
        findings = [paragraph for half_findings in halves for paragraph in half_findings]
    return DigestParts(
        intro=tuple(intro), findings=tuple(findings), notes=tuple(notes), report_link=report_link
    )


def digest_payload(digest: Digest) -> dict[str, Any]:
    """The incoming-webhook payload of a digest: Block Kit ``blocks`` and a plain ``text``.

    Args:
        digest: the digest (its ``subject``, ``text_body`` and ``recipient`` are used).

    Returns:
        ``{"text": ..., "blocks": [...]}`` within Slack's limits, card numbers masked.
    """
    subject = redact_card_numbers(digest.subject)
    parts = parse_digest_text(digest.text_body)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(subject, MAX_HEADER_CHARS)},
    ]
    if parts.intro:
        blocks.append({"type": "section", "text": _plain("\n\n".join(parts.intro))})
    if parts.findings:
        blocks.append({"type": "divider"})
    context = _context_block(digest.recipient, parts)
    budget = MAX_BLOCKS - len(blocks) - (1 if context else 0)
    if len(parts.findings) <= budget:
        shown, hidden = len(parts.findings), 0
    else:
        shown = max(budget - 1, 0)
        hidden = len(parts.findings) - shown
    blocks.extend({"type": "section", "text": _plain(text)} for text in parts.findings[:shown])
    if hidden:
        blocks.append({"type": "section", "text": _more(hidden, parts.report_link)})
    if context:
        blocks.append(context)
    fallback = "\n".join([subject, *parts.intro])
    payload = {"text": _cut(fallback, MAX_FALLBACK_CHARS), "blocks": blocks}
    if hidden:
        log.info("slack digest shows %d of %d findings", shown, len(parts.findings))
    redacted: dict[str, Any] = _redact(payload)
    return redacted


def _context_block(recipient: str, parts: DigestParts) -> dict[str, Any] | None:
    elements: list[dict[str, Any]] = []
    if recipient.strip():
        elements.append(_plain(f"宛先 / For: {recipient.strip()}", MAX_CONTEXT_CHARS))
    if parts.report_link:
        elements.append(_link("レポート / Report", parts.report_link, MAX_CONTEXT_CHARS))
    room = MAX_CONTEXT_ELEMENTS - len(elements)
    elements.extend(_plain(note, MAX_CONTEXT_CHARS) for note in parts.notes[:room])
    return {"type": "context", "elements": elements} if elements else None


def _more(hidden: int, report_link: str | None) -> dict[str, Any]:
    label = f"{_ELLIPSIS}他 {hidden} 件 / {_ELLIPSIS}and {hidden} more"
    if report_link:
        return _link(f"{label} — レポート / report", report_link, MAX_SECTION_CHARS)
    return _plain(f"{label} (see the e-mail digest / メールをご確認ください)")


def _plain(text: str, limit: int = MAX_SECTION_CHARS) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": False}


def _link(label: str, link: str, limit: int) -> dict[str, Any]:
    """A mrkdwn text with the report link: clickable when http(s), else shown as code."""
    if link.lower().startswith(("https://", "http://")) and not re.search(r"[\s|<>]", link):
        text = f"{_escape(label)}: <{link.replace('&', '&amp;')}>"
    else:
        shown = _escape(link.replace("`", "'"))
        text = f"{_escape(label)}: `{shown}`"
    if len(text) > limit:
        return _plain(f"{label}: {link}", limit)
    return {"type": "mrkdwn", "text": text}


def _escape(text: str) -> str:
    """Slack's mrkdwn escaping of the three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(_ELLIPSIS)].rstrip() + _ELLIPSIS


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_card_numbers(value)
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value
