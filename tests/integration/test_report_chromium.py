"""The run report rendered by real headless Chromium: charts drawn, screenshot not blank.

The report is built from a realistic run (generated ERP of 150 foreign employees, extracted,
validated and reconciled), written to the test's tmp directory, then loaded by Chromium twice: once
to dump the DOM after the report's own check script ran (every ``<svg>`` and bar has a non-zero
bounding box), once for a full-size screenshot that is decoded here with ``zlib``/``struct`` and
checked for the chart colours. Chromium is required: install it with ``make browser``.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from zairyu_sync.erp_sample import generate_sample, write_erp
from zairyu_sync.extract import extract_snapshot
from zairyu_sync.immigration.models import Application
from zairyu_sync.immigration.sync import application_record
from zairyu_sync.reconcile import reconcile
from zairyu_sync.report import SEVERITY_SERIES, weekly_expiries, write_report
from zairyu_sync.rules import load_catalog
from zairyu_sync.validate import validate_snapshot

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 25)
WINDOW = (1280, 2400)
CHROMIUM_ENV = "ZAIRYU_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
EXPIRY_BLUE = (0x2F, 0x6F, 0xB0)
MASTHEAD = (0x17, 0x32, 0x4D)


@dataclass(frozen=True)
class BuiltReport:
    path: Path
    critical: int
    expiry_weeks_with_data: int
    trend_runs: int
    by_rule_segments: int
    html: str


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def chromium() -> str:
    """The Chromium binary; the calling test fails (never skips) when it is missing."""
    binary = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    if shutil.which(binary) is None:
        pytest.fail(
            f"Chromium not found at {binary}: run `make browser` (installs the Debian package "
            f"'chromium') or set {CHROMIUM_ENV} to a Chromium binary",
            pytrace=False,
        )
    return binary


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> BuiltReport:
    workdir = tmp_path_factory.mktemp("report")
    sample = generate_sample(150, as_of=AS_OF, seed=5)
    erp = sa.create_engine(f"sqlite:///{workdir / 'erp.sqlite'}")
    write_erp(sample, erp)
    snapshot = extract_snapshot(erp, as_of=AS_OF)
    erp.dispose()
    outcome = validate_snapshot(
        snapshot.employees, snapshot.applications, snapshot.timesheets, as_of=AS_OF
    )
    isa = pd.DataFrame(
        [
            application_record(Application.model_validate(item, strict=False))
            for item in sample.isa_applications
        ]
    )
    result = reconcile(
        outcome.employees,
        outcome.applications,
        isa,
        outcome.quarantine,
        as_of=AS_OF,
        timesheets=outcome.timesheets,
    )
    findings = result.discrepancies
    critical = int((findings["severity"] == "critical").sum())
    expiries = weekly_expiries(outcome.employees, as_of=AS_OF)
    history = [9, 9, 11, 12, 10, 10, 13, 14, 12, 12, 11, 15, 16, critical]
    trend = pd.DataFrame(
        {
            "as_of_date": [AS_OF - timedelta(days=len(history) - 1 - i) for i in range(14)],
            "open_critical": history,
        }
    )
    validated: dict[str, Any] = outcome.summary()
    employees = validated["counts"]["employees"]
    summary = {
        "run_key": f"residence_status_reconciliation/{AS_OF.isoformat()}",
        "as_of": AS_OF.isoformat(),
        "counts": {**employees, "reconciled": len(outcome.employees), "api_calls": 4},
        "findings_total": len(findings),
        "findings_new": len(findings),
        "findings_open": len(findings),
        "findings_resolved": 0,
        "quarantine_reasons": validated["quarantine_reasons"],
    }
    path = write_report(
        workdir / "report.html",
        summary=summary,
        discrepancies=findings,
        catalog=load_catalog(),
        upcoming_expiries=expiries,
        critical_trend=trend,
    )
    assert critical > 0 and int((expiries["count"] > 0).sum()) > 0
    return BuiltReport(
        path=path,
        critical=critical,
        expiry_weeks_with_data=int((expiries["count"] > 0).sum()),
        trend_runs=len(history),
        by_rule_segments=int(findings.groupby(["rule_code", "severity"]).ngroups),
        html=path.read_text(encoding="utf-8"),
    )


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed


def test_report_is_self_contained(report: BuiltReport) -> None:
    html = report.html
    assert "<script src" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html)
    assert html.count('<svg id="chart-') == 3
    assert html.count("<title") == 1 + 3 + html.count('class="bar')


def test_chromium_draws_every_chart_and_bar(report: BuiltReport) -> None:
    dom = _run_chromium(
        chromium(),
        report.path.parent / "profile-dom",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--dump-dom",
        report.path.as_uri(),
    ).stdout
    charts = re.search(r'data-charts-rendered="(\d+)/(\d+)"', dom)
    bars = re.search(r'data-bars-rendered="(\d+)"', dom)
    assert charts is not None and bars is not None, "the report's check script did not run"
    assert charts.groups() == ("3", "3")
    expected_bars = report.by_rule_segments + report.expiry_weeks_with_data + report.trend_runs
    assert int(bars.group(1)) == expected_bars
    assert dom.count('id="critical"') == 1
    assert len(re.findall(r'<tr class="(?:overdue)?">', dom)) == report.critical


def test_screenshot_shows_the_charts(report: BuiltReport) -> None:
    screenshot = report.path.parent / "report.png"
    _run_chromium(
        chromium(),
        report.path.parent / "profile-shot",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={screenshot}",
        report.path.as_uri(),
    )
    assert screenshot.is_file() and screenshot.stat().st_size > 20_000
    pixels = read_png_rgb(screenshot.read_bytes())
    assert pixels.shape == (WINDOW[1], WINDOW[0], 3)
    colours = Counter(map(tuple, pixels.reshape(-1, 3).tolist()))
    assert len(colours) > 200, "the screenshot is (nearly) blank"
    assert colours[MASTHEAD] > 20_000
    for series in SEVERITY_SERIES:
        assert colours[_rgb(series.colour)] > 300, f"no {series.key} bars in the screenshot"
    assert colours[EXPIRY_BLUE] > 300, "no expiry bars in the screenshot"


# --- a tiny PNG reader (8-bit RGB/RGBA, non-interlaced: what Chromium writes) --------------------


def read_png_rgb(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG into a (height, width, 3) array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type)
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8)
    rows = raw.reshape(height, stride + 1)
    image = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for index in range(height):
        kind, line = int(rows[index, 0]), rows[index, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1:
            sums = np.cumsum(line.reshape(width, channels).astype(np.int64), axis=0)
            current = (sums % 256).astype(np.uint8).reshape(stride)
        elif kind == 2:
            current = line + previous
        else:
            current = _unfilter_slow(kind, line, previous, channels)
        image[index] = current
        previous = current
    return image.reshape(height, width, channels)[:, :, :3]


def _unfilter_slow(
    kind: int,
    line: np.ndarray[Any, np.dtype[np.uint8]],
    previous: np.ndarray[Any, np.dtype[np.uint8]],
    channels: int,
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    filtered, above = line.tolist(), previous.tolist()
    out = [0] * len(filtered)
    for i, value in enumerate(filtered):
        left = out[i - channels] if i >= channels else 0
        up = above[i]
        if kind == 3:
            out[i] = (value + (left + up) // 2) & 0xFF
            continue
        upper_left = above[i - channels] if i >= channels else 0
        estimate = left + up - upper_left
        pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
        predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
        out[i] = (value + predictor) & 0xFF
    return np.array(out, dtype=np.uint8)
