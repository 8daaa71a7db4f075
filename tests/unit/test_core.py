"""Core helpers: PII masking and tokenisation, settings, SQL files, run identity."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from zairyu_sync.config import (
    MAX_DEFAULT_RECONCILE_THREADS,
    PolicySettings,
    policy_from_env,
    reconcile_threads_from_env,
    shard_count_from_env,
)
from zairyu_sync.errors import ConfigError
from zairyu_sync.pii import (
    mask_card_number,
    mask_name,
    redact_card_numbers,
    tokenise_card_number,
)
from zairyu_sync.rules import load_catalog
from zairyu_sync.runs import make_run_context, read_frame, write_frame
from zairyu_sync.schedule import as_of_date
from zairyu_sync.sqlfiles import split_statements

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("card", "masked"),
    [("AB12345678CD", "AB******CD"), (" AB12345678CD ", "AB******CD"), ("", ""), (None, "")],
)
def test_card_numbers_are_masked(card: str | None, masked: str) -> None:
    assert mask_card_number(card) == masked


def test_short_values_are_masked_completely() -> None:
    assert mask_card_number("ABC") == "********"
    assert mask_name("NGUYEN VAN AN") == "N. V. A."


def test_tokens_are_keyed_stable_and_not_the_number() -> None:
    first = tokenise_card_number("AB12345678CD", key=b"k1")
    assert first == tokenise_card_number("AB12345678CD", key=b"k1")
    assert first != tokenise_card_number("AB12345678CD", key=b"k2")
    assert first is not None and "12345678" not in first and len(first) == 64
    assert tokenise_card_number(None) is None and tokenise_card_number(" ") is None


def test_tokenisation_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAIRYU_PII_KEY", "k1")
    assert tokenise_card_number("AB12345678CD") == tokenise_card_number("AB12345678CD", key=b"k1")


def test_free_text_is_redacted() -> None:
    text = "old AB12345678CD new XY87654321ZW, receipt 2026-TKY-0001"
    assert redact_card_numbers(text) == "old AB******CD new XY******ZW, receipt 2026-TKY-0001"


def test_policy_defaults_and_overrides() -> None:
    assert policy_from_env({}) == PolicySettings()
    policy = policy_from_env(
        {"ZAIRYU_EXPIRY_HORIZON_DAYS": "120", "ZAIRYU_WEEKLY_HOURS_LIMIT": "20"}
    )
    assert policy.expiry_horizon_days == 120
    assert policy.weekly_hours_limit == 20.0
    with pytest.raises(ConfigError, match="ZAIRYU_CARD_RENEWAL_DAYS"):
        policy_from_env({"ZAIRYU_CARD_RENEWAL_DAYS": "sixty"})


def test_sql_files_split_into_statements() -> None:
    sql = "-- header\nCREATE TABLE a (x INT);\n\n-- b\nCREATE TABLE b (\n  y TEXT\n);\n"
    assert split_statements(sql) == [
        "CREATE TABLE a (x INT)",
        "-- b\nCREATE TABLE b (\n  y TEXT\n)",
    ]
    assert split_statements("-- only a comment\n") == []


def test_as_of_is_the_japanese_calendar_date() -> None:
    # 15:00 UTC is midnight in Tokyo: a daily run scheduled at midnight JST is for the new day.
    assert as_of_date(datetime(2026, 11, 24, 15, 0, tzinfo=UTC)) == date(2026, 11, 25)
    assert as_of_date(datetime(2026, 11, 24, 14, 59, tzinfo=UTC)) == date(2026, 11, 24)


def test_run_key_depends_on_the_as_of_date_only(tmp_path: Path) -> None:
    first = make_run_context(
        pipeline="p",
        logical_date=datetime(2026, 11, 24, 15, tzinfo=UTC),
        as_of=date(2026, 11, 25),
        dag_run_id="scheduled__1",
        root=tmp_path,
    )
    retry = make_run_context(
        pipeline="p",
        logical_date=datetime(2026, 11, 24, 15, tzinfo=UTC),
        as_of=date(2026, 11, 25),
        dag_run_id="manual__2",
        root=tmp_path,
    )
    assert first.run_key == retry.run_key == "p/2026-11-25"
    assert first.run_dir == retry.run_dir and first.run_dir.is_dir()
    frame = pd.DataFrame({"employee_id": ["E1", None]})
    write_frame(frame, first.path("employees_raw"))
    assert read_frame(first.path("employees_raw")).equals(frame)
    assert not list(first.run_dir.glob("*.tmp"))


def test_reference_files_can_be_replaced_by_the_employer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zairyu_sync.statuses import load_statuses

    packaged = Path(__file__).resolve().parents[2] / "plugins/zairyu_sync/residence_statuses.yaml"
    text = packaged.read_text(encoding="utf-8").replace(
        "valid_from: 2027-04-01", "valid_from: 2027-06-01"
    )
    assert "2027-06-01" in text
    custom = tmp_path / "statuses.yaml"
    custom.write_text(text, encoding="utf-8")
    monkeypatch.setenv("ZAIRYU_STATUS_MASTER", str(custom))
    esd = load_statuses().get("employment_for_skill_development")
    assert esd is not None and esd.valid_from == date(2027, 6, 1)

    monkeypatch.setenv("ZAIRYU_RULE_CATALOG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="ZAIRYU_RULE_CATALOG"):
        load_catalog()


def test_reconcile_threads_default_to_the_cpus_at_most_four() -> None:
    threads = reconcile_threads_from_env({})
    assert 1 <= threads <= MAX_DEFAULT_RECONCILE_THREADS
    assert reconcile_threads_from_env({"ZAIRYU_RECONCILE_THREADS": " 3 "}) == 3
    assert reconcile_threads_from_env({"ZAIRYU_RECONCILE_THREADS": ""}) == threads


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_reconcile_threads_must_be_a_positive_whole_number(raw: str) -> None:
    with pytest.raises(ConfigError, match="ZAIRYU_RECONCILE_THREADS"):
        reconcile_threads_from_env({"ZAIRYU_RECONCILE_THREADS": raw})


def test_shard_count_reads_the_same_way() -> None:
    assert shard_count_from_env({}) == 4
    assert shard_count_from_env({"ZAIRYU_SHARDS": "16"}) == 16
    with pytest.raises(ConfigError, match="ZAIRYU_SHARDS must be at least 1"):
        shard_count_from_env({"ZAIRYU_SHARDS": "0"})


def test_the_catalog_is_parsed_once_per_text() -> None:
    assert load_catalog() is load_catalog()
    text = "rules: []\n"
    assert load_catalog(text) is load_catalog(text)
    assert load_catalog(text) is not load_catalog()
