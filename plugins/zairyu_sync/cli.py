"""The ``zairyu-sync`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from zairyu_sync.errors import ZairyuSyncError

if TYPE_CHECKING:
    from zairyu_sync.demo import DemoPaths

log = logging.getLogger(__name__)


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
    print(run_demo(employees=args.employees, as_of=args.as_of, seed=args.seed, paths=paths))
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from zairyu_sync.demo import seed_sample, today_in_japan

    paths = _demo_paths(args)
    written = seed_sample(
        paths, employees=args.employees, as_of=args.as_of or today_in_japan(), seed=args.seed
    )
    print(f"sample ERP {paths.erp}: {written}; ISA seed {paths.isa_seed}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    demo.set_defaults(handler=_cmd_demo)

    seed = commands.add_parser("seed", help="write the sample ERP and ISA simulator seed only")
    seed.add_argument("--employees", type=int, default=2000)
    seed.add_argument("--as-of", type=_date, default=None)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--demo-dir", type=Path, default=None, help="state directory (.demo)")
    seed.set_defaults(handler=_cmd_seed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zairyu-sync`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except ZairyuSyncError as exc:
        print(f"zairyu-sync: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
