"""Alert routing YAML: defaults, owners, fallback of unknown owners and validation errors."""

from __future__ import annotations

import pytest

from zairyu_sync.errors import ConfigError
from zairyu_sync.routing import load_routing

pytestmark = pytest.mark.unit

BASE = "fallback_owner: Compliance@Example.com\nescalation_contact: lead@example.com\n"


def test_defaults_and_owner_settings() -> None:
    routing = load_routing(
        BASE
        + "owners:\n"
        + "  hr-en@example.com: {language: en, channels: [slack, email], slack_conn_id: sl}\n"
        + "  hr-ja@example.com:\n"
    )
    assert routing.fallback_owner == "compliance@example.com"
    assert routing.escalate_after_days == 7
    assert routing.reminder_days == (120, 90, 60, 30, 14, 7, 1)
    english = routing.route("HR-EN@example.com ")
    assert (english.language, english.channels, english.slack_conn_id) == (
        "en",
        ("slack", "email"),
        "sl",
    )
    assert routing.route("hr-ja@example.com").channels == ("email",)
    assert routing.route("hr-ja@example.com").language == "ja"


@pytest.mark.parametrize("owner", [None, "", "  ", "stranger@example.com"])
def test_blank_and_unknown_owners_fall_back(owner: str | None) -> None:
    routing = load_routing(BASE + "owners: {hr@example.com: {}}\n")
    assert routing.route(owner).address == "compliance@example.com"


def test_reminder_days_are_sorted_and_deduplicated() -> None:
    routing = load_routing(BASE + "reminder_days: [7, 30, 7, 90]\nescalate_after_days: 3\n")
    assert routing.reminder_days == (90, 30, 7)
    assert routing.escalate_after_days == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("escalation_contact: a@b.c\n", "fallback_owner must be an e-mail address"),
        (BASE + "colour: red\n", "unknown keys"),
        (BASE + "reminder_days: []\n", "reminder_days must be a non-empty list"),
        (BASE + "reminder_days: [-1]\n", "reminder_days must hold whole numbers"),
        (BASE + "escalate_after_days: soon\n", "escalate_after_days"),
        (BASE + "owners: {x@y.z: {language: fr}}\n", "language must be one of"),
        (BASE + "owners: {x@y.z: {channels: [fax]}}\n", "channel must be one of"),
        (BASE + "owners: {x@y.z: {pager: 1}}\n", "unknown keys"),
        (BASE + "owners: {not-an-address: {}}\n", "owner address must be an e-mail"),
        ("[1, 2", "not valid YAML"),
        ("- a\n", "must be a mapping"),
    ],
)
def test_malformed_routing_raises_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_routing(text)


def test_repository_owners_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZAIRYU_OWNERS_FILE", raising=False)
    routing = load_routing()
    assert routing.route("hr-tokyo@example.co.jp").address == "hr-tokyo@example.co.jp"
    assert routing.route(None).address == routing.fallback_owner


def test_unreadable_owners_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("ZAIRYU_OWNERS_FILE", "does/not/exist.yaml")
    with pytest.raises(ConfigError, match="ZAIRYU_OWNERS_FILE"):
        load_routing()
