"""The ``zairyu-sync`` command line.

Commands: ``demo`` and ``seed`` (the embedded demo), ``reconcile`` (an analyst's reconciliation of
an input snapshot directory, through the same validation and rules as the DAG) and ``rules`` (the
rule catalog as Markdown or JSON). Unusable input or arguments end the command with exit status 2
and one line ``zairyu-sync: <reason>`` on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from zairyu_sync.errors import ZairyuSyncError

if TYPE_CHECKING:
    import pandas as pd

    from zairyu_sync.demo import DemoPaths
    from zairyu_sync.reconcile import ReconciliationResult
    from zairyu_sync.rules import RuleCatalog
    from zairyu_sync.validate import ValidationOutcome

log = logging.getLogger(__name__)


#: Exit status for unusable input or arguments.
EXIT_UNUSABLE = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_UNUSABLE, f"zairyu-sync: {message} (see {self.prog} --help)\n")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {value!r}") from exc


def _demo_paths(args: argparse.Namespace) -> DemoPaths:
    from zairyu_sync.demo import DemoPaths

    return DemoPaths(args.demo_dir.resolve()) if args.demo_dir else DemoPaths.default()


def _cmd_demo(args: argparse.Namespace) -> int:
    from zairyu_sync.demo import run_demo

    paths = _demo_paths(args)
    if args.advance_days is not None and args.as_of is not None:
        raise _UsageError("--advance-days moves the existing world; it takes no --as-of")
    print(
        run_demo(
            employees=args.employees,
            as_of=args.as_of,
            seed=args.seed,
            paths=paths,
            advance_days=args.advance_days,
        )
    )
    return 0


class _UsageError(ZairyuSyncError):
    """Arguments that cannot be combined."""


def _positive_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of days: {value!r}") from exc
    if days < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 day: {value!r}")
    return days


def _cmd_seed(args: argparse.Namespace) -> int:
    from zairyu_sync.demo import seed_sample, today_in_japan

    paths = _demo_paths(args)
    written = seed_sample(
        paths, employees=args.employees, as_of=args.as_of or today_in_japan(), seed=args.seed
    )
    print(f"sample ERP {paths.erp}: {written}; ISA seed {paths.isa_seed}")
    return 0


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from zairyu_sync.config import policy_from_env
    from zairyu_sync.snapshot_files import read_input_snapshot

    policy = policy_from_env()
    snapshot = read_input_snapshot(args.input)
    # Imported after the input is read: validation loads Great Expectations, which is slow.
    from zairyu_sync.reconcile import reconcile
    from zairyu_sync.validate import validate_snapshot

    outcome = validate_snapshot(snapshot.employees, snapshot.applications, snapshot.timesheets)
    result = reconcile(
        outcome.employees,
        outcome.applications,
        snapshot.isa_applications,
        outcome.quarantine,
        as_of=args.as_of,
        policy=policy,
        timesheets=outcome.timesheets,
        erp_receipt_numbers=snapshot.erp_receipt_numbers(),
    )
    findings = result.to_contract_frame()
    _write_frame(findings, args.output, args.format)
    if args.quarantine is not None:
        _write_frame(outcome.quarantine, args.quarantine, args.format)
    print(_reconcile_summary(args, outcome, result))
    return 0


def _cmd_rules(args: argparse.Namespace) -> int:
    from zairyu_sync.rules import load_catalog
    from zairyu_sync.rules_doc import render_rules_markdown, rules_as_json

    catalog = load_catalog()
    if args.format == "json":
        text = json.dumps(rules_as_json(catalog), ensure_ascii=False, indent=2) + "\n"
    else:
        text = render_rules_markdown(catalog)
    if args.output is None:
        sys.stdout.write(text)
    else:
        _write_text(args.output, text)
        print(f"rule catalog ({len(catalog.rules)} rules) written to {args.output}")
    return 0


class _OutputError(ZairyuSyncError):
    """An output file could not be written."""


def _write_frame(frame: pd.DataFrame, path: Path, file_format: str) -> None:
    """Write a frame as UTF-8 CSV with header, or as a JSON array of objects (null for empty)."""
    if file_format == "json":
        records = [
            {str(key): _json_value(value) for key, value in row.items()}
            for row in frame.to_dict("records")
        ]
        _write_text(path, json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    else:
        _write_text(path, frame.to_csv(index=False, lineterminator="\n"))


def _json_value(value: Any) -> Any:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8, creating the parent directory; replaces the file atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _OutputError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from exc


def _reconcile_summary(
    args: argparse.Namespace, outcome: ValidationOutcome, result: ReconciliationResult
) -> str:
    from zairyu_sync.rules import load_catalog

    lines = [f"zairyu-sync reconcile as of {args.as_of.isoformat()} ({args.input})", ""]
    lines += _counts_table(outcome.counts)
    lines.append("")
    lines += _rules_table(result.counts_by_rule_and_severity(), load_catalog(), args.as_of)
    if result.unimplemented_codes:
        lines.append(f"not checked (no evaluator): {', '.join(result.unimplemented_codes)}")
    lines.append("")
    lines.append(f"findings: {len(result.discrepancies)} -> {args.output}")
    if args.quarantine is not None:
        lines.append(f"quarantine: {len(outcome.quarantine)} rows -> {args.quarantine}")
    return "\n".join(lines)


def _counts_table(counts: Mapping[str, Mapping[str, int]]) -> list[str]:
    keys = ("extracted", "ignored", "quarantined", "valid")
    lines = [f"{'table':<14}" + "".join(f"{key:>13}" for key in keys)]
    for table, numbers in counts.items():
        lines.append(f"{table:<14}" + "".join(f"{numbers.get(key, 0):>13}" for key in keys))
    return lines


def _rules_table(
    by_rule: Mapping[str, Mapping[str, int]], catalog: RuleCatalog, as_of: date
) -> list[str]:
    """One line per rule in force on ``as_of`` (catalog order), then a total line."""
    from zairyu_sync.canonical import SEVERITIES

    codes = [rule.code for rule in catalog.rules if rule.applies_on(as_of)]
    codes += sorted(code for code in by_rule if code not in codes)
    width = max(len(code) for code in [*codes, "rule"])
    lines = [f"{'rule':<{width}}" + "".join(f"{severity:>10}" for severity in SEVERITIES)]
    totals = dict.fromkeys(SEVERITIES, 0)
    for code in codes:
        numbers = by_rule.get(code, {})
        lines.append(
            f"{code:<{width}}" + "".join(f"{numbers.get(sev, 0):>10}" for sev in SEVERITIES)
        )
        for severity in SEVERITIES:
            totals[severity] += numbers.get(severity, 0)
    lines.append(f"{'total':<{width}}" + "".join(f"{totals[sev]:>10}" for sev in SEVERITIES))
    return lines


def _cmd_bench(args: argparse.Namespace) -> int:
    from zairyu_sync.bench import TargetSizes, format_table, run_benchmark

    sizes = TargetSizes(
        reconcile_employees=args.reconcile_employees,
        isa_applications=args.isa_applications,
        isa_rate_limit=args.isa_rate_limit,
        isa_latency_ms=args.isa_latency_ms,
        national_employees=args.national_employees,
        national_shards=args.shards,
        national_workers=args.workers,
        daily_employees=args.daily_employees,
    )
    for name, value in (("--employees", args.employees), *sizes.counts()):
        if value is not None and value < 1:
            raise ZairyuSyncError(f"{name} must be positive")
    if (sizes.national_employees or sizes.daily_employees) and not args.postgres_url:
        raise ZairyuSyncError("--national-employees and --daily-employees need --postgres-url")
    try:
        report = run_benchmark(
            args.employees,
            output=args.output,
            postgres_url=args.postgres_url,
            targets=sizes,
            baseline_pairs=args.baseline_pairs,
        )
    except ValueError as exc:
        raise ZairyuSyncError(str(exc)) from exc
    sys.stdout.write(format_table(report) + "\n")
    if args.output is not None:
        sys.stdout.write(f"results: {args.output}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``zairyu-sync`` argument parser with its sub-commands."""
    parser = _Parser(
        prog="zairyu-sync",
        description="Reconcile foreign-employee residence records against ISA statuses.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole pipeline once on embedded defaults")
    demo.add_argument(
        "--employees", type=int, default=2000, help="foreign employees (default 2000)"
    )
    demo.add_argument("--as-of", type=_date, default=None, help="as-of date (default: today, JST)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the sample")
    demo.add_argument("--demo-dir", type=Path, default=None, help="state directory (.demo)")
    demo.add_argument(
        "--advance-days",
        type=_positive_days,
        default=None,
        metavar="N",
        help="move the existing demo world forward N days and run the DAG for the new date",
    )
    demo.set_defaults(handler=_cmd_demo)

    seed = commands.add_parser("seed", help="write the sample ERP and ISA simulator seed only")
    seed.add_argument("--employees", type=int, default=2000)
    seed.add_argument("--as-of", type=_date, default=None)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--demo-dir", type=Path, default=None, help="state directory (.demo)")
    seed.set_defaults(handler=_cmd_seed)

    rec = commands.add_parser(
        "reconcile",
        help="reconcile an input snapshot directory (contract section 1) without Airflow",
        description="Validate and reconcile the files of an input snapshot directory "
        "(employees.csv, applications.csv, optional timesheets.csv, isa_applications.json) with "
        "the same validation and rules as the DAG; policy thresholds come from ZAIRYU_* "
        "environment variables. Exit status 0 when it ran, whatever it found; 2 on unusable input.",
    )
    rec.add_argument(
        "--input", type=Path, required=True, metavar="DIR", help="input snapshot directory"
    )
    rec.add_argument(
        "--as-of", type=_date, required=True, metavar="YYYY-MM-DD", help="as-of date D (YYYY-MM-DD)"
    )
    rec.add_argument(
        "--output", type=Path, required=True, metavar="FILE", help="findings file to write"
    )
    rec.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="output format (default csv)"
    )
    rec.add_argument(
        "--quarantine",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the quarantine (same format)",
    )
    rec.set_defaults(handler=_cmd_reconcile)

    rules = commands.add_parser("rules", help="render the rule catalog")
    rules.add_argument(
        "--format", choices=("markdown", "json"), default="markdown", help="default markdown"
    )
    rules.add_argument(
        "--output", type=Path, default=None, metavar="FILE", help="file to write (default stdout)"
    )
    rules.set_defaults(handler=_cmd_rules)

    bench = commands.add_parser("bench", help="measure each pipeline stage on a synthetic roster")
    bench.add_argument("--employees", type=int, required=True, help="foreign employees")
    bench.add_argument(
        "--output",
        type=Path,
        default=Path("bench/results.json"),
        metavar="FILE",
        help="results JSON (default bench/results.json)",
    )
    bench.add_argument(
        "--postgres-url",
        default=None,
        metavar="URL",
        help="also extract from and load into PostgreSQL (throwaway schema, dropped afterwards)",
    )
    bench.add_argument(
        "--baseline-pairs",
        type=int,
        default=3,
        metavar="N",
        help="time the rules and the load against their naive baselines again, N pairs of "
        "fresh processes (3; 0 skips them)",
    )
    targets = bench.add_argument_group(
        "targets", "measurements at target scale (each skipped unless its size is given)"
    )
    targets.add_argument(
        "--reconcile-employees",
        type=int,
        default=None,
        metavar="N",
        help="time the rules over N employees (a realistic roster tiled to N; target 1,000,000)",
    )
    targets.add_argument(
        "--isa-applications",
        type=int,
        default=None,
        metavar="N",
        help="ISA sync throughput over N applications against a rate-limited simulator",
    )
    targets.add_argument(
        "--isa-rate-limit", type=float, default=200.0, metavar="R", help="requests/s (200)"
    )
    targets.add_argument(
        "--isa-latency-ms",
        type=float,
        default=30.0,
        metavar="MS",
        help="ISA API latency, also in the stage benchmark's ISA sync (30)",
    )
    targets.add_argument(
        "--national-employees",
        type=int,
        default=None,
        metavar="N",
        help="sharded extract+validate+reconcile+load of N employees on PostgreSQL (2,600,000)",
    )
    targets.add_argument(
        "--shards", type=int, default=16, metavar="K", help="shards of that run (16)"
    )
    targets.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="W",
        help="processes that run that run's mapped stages in parallel (1: shard after shard)",
    )
    targets.add_argument(
        "--daily-employees",
        type=int,
        default=None,
        metavar="N",
        help="a daily run after 1%% of N employees changed, end to end (target 100,000)",
    )
    bench.set_defaults(handler=_cmd_bench)
    return parser


#: Commands that run data stages in this process: they get the stages' memory pool (ADR 0014).
_DATA_COMMANDS = frozenset({"demo", "reconcile", "bench"})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zairyu-sync`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command in _DATA_COMMANDS:
        from zairyu_sync.arrow_memory import use_data_stage_memory_pool

        use_data_stage_memory_pool()
    try:
        return int(args.handler(args))
    except ZairyuSyncError as exc:
        print(f"zairyu-sync: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
