"""Pure parts of alert planning: reminder thresholds, keys and alert ids."""

from __future__ import annotations

from datetime import date

import pytest

from zairyu_sync.alert import Digest, alert_id, message_id
from zairyu_sync.alert_plan import kind_counts, reminder_key, reminder_threshold

pytestmark = pytest.mark.unit

DAYS = (120, 90, 60, 30, 14, 7, 1)


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(121, None), (120, 120), (100, 120), (90, 90), (45, 60), (8, 14), (7, 7), (1, 1), (0, 1),
     (-1, None)],
)  # fmt: skip
def test_only_the_smallest_crossed_threshold(days_left: int, expected: int | None) -> None:
    assert reminder_threshold(days_left, DAYS) == expected


def test_reminder_key_names_employee_expiry_and_threshold() -> None:
    assert reminder_key("E1", date(2027, 2, 13), 90) == "E1|2027-02-13|90"


def test_alert_id_depends_on_channel_and_keys_not_their_order() -> None:
    email = alert_id("expiry_reminder", "a@x.com", ["k2", "k1"])
    assert email == alert_id("expiry_reminder", "A@X.com", ("k1", "k2"), "email")
    assert email != alert_id("expiry_reminder", "a@x.com", ["k1", "k2"], "slack")
    digest = Digest("a@x.com", "s", "t", "h", (), kind="expiry_reminder", alert_keys=("k1", "k2"))
    assert digest.alert_id == email
    assert message_id(email) == f"<{email}@zairyu-sync.local>"


def test_kind_counts_include_zero_kinds() -> None:
    digest = Digest("a@x.com", "s", "t", "h", ("f",), kind="critical")
    assert kind_counts([digest, digest]) == {
        "critical": 2,
        "escalation": 0,
        "warning_digest": 0,
        "expiry_reminder": 0,
        "resolved": 0,
    }
