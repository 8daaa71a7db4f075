"""Masking and tokenisation of personal data.

Residence card numbers, names and birth dates never leave the pipeline unmasked: logs, XCom,
alerts and reports use :func:`mask_card_number` / :func:`mask_name`; the warehouse stores card
numbers as :func:`tokenise_card_number` (HMAC-SHA256 with a key from the environment) plus the
masked display form.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable

from zairyu_sync.config import PII_KEY_ENV

CARD_NUMBER_PATTERN = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}")
_DEMO_KEY = "zairyu-sync-demo-key-not-for-production"
# RFC 2104 pads: the key XOR 0x36 (inner) and XOR 0x5C (outer), as byte translation tables.
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


def mask_card_number(card_number: str | None) -> str:
    """``AB12345678CD`` -> ``AB******CD``; anything else becomes ``********``; None -> ``""``."""
    if card_number is None or card_number != card_number:  # None or NaN
        return ""
    value = str(card_number).strip()
    if not value:
        return ""
    if len(value) >= 4:
        return f"{value[:2]}******{value[-2:]}"
    return "********"


def mask_name(full_name: str | None) -> str:
    """Keep the first letter of each name part: ``NGUYEN VAN AN`` -> ``N. V. A.``."""
    if full_name is None or full_name != full_name:
        return ""
    parts = [part for part in str(full_name).split() if part]
    return " ".join(f"{part[0]}." for part in parts)


def pii_key() -> bytes:
    """The tokenisation key: ``ZAIRYU_PII_KEY`` or, for the embedded demo only, a fixed demo key."""
    return os.environ.get(PII_KEY_ENV, _DEMO_KEY).encode("utf-8")


def tokenise_card_number(card_number: str | None, key: bytes | None = None) -> str | None:
    """A keyed hash (hex HMAC-SHA256) of a card number: joinable, not reversible without the key."""
    if card_number is None or card_number != card_number:
        return None
    value = str(card_number).strip()
    if not value:
        return None
    digest = hmac.new(key or pii_key(), value.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()


def tokenise_card_numbers(
    card_numbers: Iterable[str | None], key: bytes | None = None
) -> list[str | None]:
    """:func:`tokenise_card_number` of each value, the same tokens, for a whole column at once.

    HMAC-SHA256 (RFC 2104) is computed from two SHA-256 states keyed once for the column and
    copied per value, instead of keying a new ``hmac`` object for every card number.

    Args:
        card_numbers: card numbers (None, NaN or blank give None, like the single-value form).
        key: the tokenisation key; default :func:`pii_key`.

    Returns:
        One hex token or None per value, in order.
    """
    secret = key or pii_key()
    block = hashlib.sha256().block_size
    if len(secret) > block:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(block, b"\0")
    inner_copy = hashlib.sha256(secret.translate(_INNER_PAD)).copy
    outer_copy = hashlib.sha256(secret.translate(_OUTER_PAD)).copy
    tokens: list[str | None] = []
    append = tokens.append
    for card_number in card_numbers:
        if card_number is None or card_number != card_number:
            append(None)
            continue
        value = str(card_number).strip()
        if not value:
            append(None)
            continue
        inner = inner_copy()
        inner.update(value.encode("utf-8"))
        outer = outer_copy()
        outer.update(inner.digest())
        append(outer.hexdigest())
    return tokens


def redact_card_numbers(text: str) -> str:
    """Mask every card-number-shaped token inside free text (used before logging detail)."""
    return CARD_NUMBER_PATTERN.sub(lambda match: mask_card_number(match.group(0)), text)
