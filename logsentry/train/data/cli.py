"""`logsentry model data`: dump training data as JSON lines, list families."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO


def register_data(model_subparsers: Any) -> None:
    """Add the `data` subcommand under `logsentry model`."""
    data = model_subparsers.add_parser(
        "data", help="dump synthetic (and real) labelled examples as JSON lines")
    data.add_argument("--n", type=int, default=10_000, help="number of synthetic examples")
    data.add_argument("--seed", type=int, default=13)
    data.add_argument("--out", type=Path, help="JSON-lines file to write (default: stdout)")
    data.add_argument("--families", help="comma-separated synthetic families (default: all)")
    data.add_argument("--real", action="store_true",
                      help="append the real training examples of ../shared/datasets")
    data.add_argument("--held-out", action="store_true",
                      help="append the real held-out examples instead (for inspection)")
    data.add_argument("--datasets", type=Path, help="datasets folder (default: ../shared/datasets)")
    data.add_argument("--list", action="store_true",
                      help="list families (origin, count, split) instead of dumping examples")
    data.set_defaults(func=cmd_data)


def _write(examples: list[Any], out: TextIO) -> None:
    for example in examples:
        out.write(json.dumps(example.to_dict(), ensure_ascii=False))
        out.write("\n")


def cmd_data(args: argparse.Namespace) -> int:
    """Generate (and optionally append real) examples; report counts on stderr."""
    from logsentry.train.data.real import list_families, real_examples
    from logsentry.train.data.splits import only_held_out, without_held_out
    from logsentry.train.data.synthetic import FAMILY_BY_NAME, generate

    if args.list:
        for name, info in list_families(args.datasets).items():
            count = "-" if info["count"] is None else str(info["count"])
            print(f"{name}\t{info['origin']}\t{count}\t{info['split']}")
        return 0
    families = None
    if args.families:
        families = {name.strip() for name in args.families.split(",") if name.strip()}
        unknown = families - FAMILY_BY_NAME.keys()
        if unknown:
            print(f"unknown families: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    examples = generate(args.n, args.seed, families)
    seconds = time.perf_counter() - started
    if args.real or args.held_out:
        real = real_examples(args.datasets)
        examples.extend(only_held_out(real) if args.held_out else without_held_out(real))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as fh:
            _write(examples, fh)
    else:
        _write(examples, sys.stdout)
    by_origin = Counter(e.origin for e in examples)
    rate = args.n / seconds if seconds > 0 else float("inf")
    print(f"wrote {len(examples)} examples ({dict(by_origin)});"
          f" synthetic: {args.n} in {seconds:.2f}s ({rate:,.0f}/s)", file=sys.stderr)
    return 0
