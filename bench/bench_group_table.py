"""The worst single insert into a rule's group table as it grows, against one OrderedDict.

A table that crosses a size step copies itself: one OrderedDict of a million groups
stalls detection for hundreds of milliseconds; a GroupTable copies one shard.

    .venv/bin/python bench/bench_group_table.py [--groups 1500000]
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections import OrderedDict
from typing import Any

from logsentry.detect.group import GroupKey, GroupState
from logsentry.detect.group_table import GroupTable

# Inserts in a row summed: the detector's batch.
BATCH = 512


def worst_insert(table: GroupTable | OrderedDict[GroupKey, GroupState],
                 keys: list[str], groups: list[GroupState]) -> dict[str, Any]:
    """The slowest insert, where it happened, how many took over a millisecond, and the
    slowest BATCH inserts in a row (a detector's batch of new sources: the shards of a
    split table, filled evenly, grow at about the same time)."""
    clock = time.perf_counter
    worst, at, over = 0.0, 0, 0
    batch, worst_batch = 0.0, 0.0
    for index, key in enumerate(keys):
        began = clock()
        table[key] = groups[index]
        took = clock() - began
        if took > 0.001:
            over += 1
        if took > worst:
            worst, at = took, index + 1
        batch += took
        if (index + 1) % BATCH == 0:
            worst_batch = max(worst_batch, batch)
            batch = 0.0
    return {"worst_ms": round(worst * 1000, 1), "at_groups": at, "inserts_over_1ms": over,
            f"worst_{BATCH}_inserts_ms": round(worst_batch * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1_500_000)
    args = parser.parse_args()
    keys = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(args.groups)]
    groups = [GroupState((key,), 0.0) for key in keys]
    gc.disable()  # a collection is not the table's cost
    report = {
        "groups": args.groups,
        "ordered_dict": worst_insert(OrderedDict(), keys, groups),
        "group_table": worst_insert(GroupTable(), keys, groups),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
