"""One rule's correlation groups by key, least recently touched first, in shards.

A single table of a million groups stalls detection each time it grows: the insert
that crosses a size step copies the whole table (283 ms for one OrderedDict insert at
1,398,101 keys, 122 ms for a plain dict), with thousands of page faults. Split by the
key's hash into SHARDS tables, the largest copy is that of one shard (about 16,000
groups at a million). A small table stays one shard, and is split once it reaches
SPLIT_AT groups.

Each shard keeps its groups in the order they were last touched (oldest first); the
table's order is theirs merged by `GroupState.touched`, the detector's arrival counter,
which every touch raises. So the oldest group of the table is the oldest of the
shards' oldest, and expiry and eviction take groups in the order one table gave them.

The shard is picked by Python's salted `hash()`, not a hash that is the same in every
process (`rule_state.stable_hash`): expiry and eviction go by `touched`, not by shard
(only groups restored with the same last time keep the file's order, which follows the
shards), an attacker who knew the hash could send keys that all fall in one shard (the
stall again), and the stable one cost 0.2 µs a lookup more for a one-field key, 0.8 for
a tuple, on the path of every event of a flood.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterator

from logsentry.detect.group import GroupKey, GroupState

# Shards of a split table (a power of two: the key's hash picks one by a mask).
SHARDS = 64
# A table is split into SHARDS once it holds this many groups: below it one shard's
# copy costs about a millisecond, and the split itself (moving each group once) two.
SPLIT_AT = 8192

Shard = OrderedDict[GroupKey, GroupState]


class GroupTable:
    """A rule's groups by key (the operations of the OrderedDict it replaces), sharded.

    `shards`, `mask` and `single` are public for the hot paths, which find a key's shard
    inline: `table.single`, or when that is None (split), `table.shards[hash(key) &
    table.mask]`. A split replaces `shards`; a table that shrinks again stays split (an
    empty shard costs a few hundred bytes).
    """

    __slots__ = ("mask", "shards", "single")

    def __init__(self) -> None:
        self.shards: list[Shard] = [OrderedDict()]
        self.mask = 0
        # The one shard until the split (most rules' tables never split).
        self.single: Shard | None = self.shards[0]

    def shard(self, key: GroupKey) -> Shard:
        """The shard that holds (or would hold) `key`."""
        return self.shards[hash(key) & self.mask]

    def get(self, key: GroupKey) -> GroupState | None:
        return self.shards[hash(key) & self.mask].get(key)

    def __getitem__(self, key: GroupKey) -> GroupState:
        return self.shards[hash(key) & self.mask][key]

    def __contains__(self, key: object) -> bool:
        return key in self.shards[hash(key) & self.mask]

    def __setitem__(self, key: GroupKey, group: GroupState) -> None:
        """Add `group` as the most recently touched (or replace the group at `key`)."""
        shard = self.shards[hash(key) & self.mask]
        shard[key] = group
        if not self.mask and len(shard) >= SPLIT_AT:
            self._split()

    def move_to_end(self, key: GroupKey) -> None:
        """Mark `key`'s group the most recently touched of its shard."""
        self.shards[hash(key) & self.mask].move_to_end(key)

    def __len__(self) -> int:
        return sum(len(shard) for shard in self.shards)

    def __bool__(self) -> bool:
        return any(self.shards)

    def __iter__(self) -> Iterator[GroupKey]:
        """The keys, shard by shard (a shard's oldest first)."""
        for shard in self.shards:
            yield from shard

    def values(self) -> Iterator[GroupState]:
        """The groups, shard by shard (a shard's oldest first)."""
        for shard in self.shards:
            yield from shard.values()

    def items(self) -> Iterator[tuple[GroupKey, GroupState]]:
        """Keys and groups, shard by shard (a shard's oldest first)."""
        for shard in self.shards:
            yield from shard.items()

    def oldest_first(self) -> Iterator[GroupState]:
        """The groups, least recently touched first across shards, each one removed when
        the iteration goes on past it: a caller that stops at a group keeps it. Nothing
        else may change the table meanwhile."""
        if not self.mask:
            shard = self.shards[0]
            while shard:
                yield next(iter(shard.values()))
                shard.popitem(last=False)
            return
        shards = self.shards
        heap = [(next(iter(shard.values())).touched, index)
                for index, shard in enumerate(shards) if shard]
        heapq.heapify(heap)
        while heap:
            index = heap[0][1]
            shard = shards[index]
            yield next(iter(shard.values()))
            shard.popitem(last=False)
            if shard:
                heapq.heapreplace(heap, (next(iter(shard.values())).touched, index))
            else:
                heapq.heappop(heap)

    def _split(self) -> None:
        """Spread the one shard over SHARDS, each keeping the groups' relative order
        (which a checkpoint being walked relies on: see `Checkpoint`)."""
        shards: list[Shard] = [OrderedDict() for _ in range(SHARDS)]
        mask = SHARDS - 1
        for key, group in self.shards[0].items():
            shards[hash(key) & mask][key] = group
        self.shards = shards
        self.mask = mask
        self.single = None
