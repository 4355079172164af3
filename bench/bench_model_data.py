"""Throughput of the synthetic training-data generator and yield of the real-data converters.

Usage: .venv/bin/python bench/bench_model_data.py [--n 100000] [--seed 13]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from logsentry.train.data import real, splits, synthetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    started = time.perf_counter()
    examples = synthetic.generate(args.n, args.seed)
    seconds = time.perf_counter() - started
    templates = sum(len(e.templates) for f in synthetic.FAMILIES for e in f.events)
    print(f"synthetic: {args.n} examples in {seconds:.2f}s = {args.n / seconds:,.0f} examples/s;"
          f" {len(synthetic.FAMILIES)} families, {templates} templates")
    by_family = Counter(e.family for e in examples)
    print("per family:", " ".join(f"{k}={v}" for k, v in sorted(by_family.items())))
    by_action = Counter(e.action for e in examples)
    print("per action:", " ".join(f"{k}={v}" for k, v in by_action.most_common()))

    started = time.perf_counter()
    sources = {
        "fail2ban": (real.fail2ban_examples(), len(real.load_fail2ban())),
        "crowdsec": (real.crowdsec_examples(), len(real.load_crowdsec())),
        "loghub": (real.loghub_examples(), len(real.load_loghub())),
    }
    seconds = time.perf_counter() - started
    print(f"real data under {real.datasets_root()} converted in {seconds:.2f}s")
    for name, (items, raw) in sources.items():
        held = splits.only_held_out(items)
        unseen = sum(1 for e in held if splits.held_out_tier(e.family) == "unseen")
        print(f"  {name}: {len(items)} examples from {raw} records; train {len(items) - len(held)},"
              f" held out {len(held)} (unseen {unseen}, independent {len(held) - unseen})")


if __name__ == "__main__":
    main()
