"""Correlation state of one group of one rule, its size estimate and its JSON form."""

from __future__ import annotations

from typing import Any

from logsentry.event import Event

# Estimated bytes of the parts of a group (CPython 3.11, 64-bit), measured with
# tracemalloc by bench/bench_detect.py; deliberately on the high side so the
# memory cap holds for real.
GROUP_BASE_BYTES = 300  # the object, its slots, its OrderedDict entry
CONTAINER_BYTES = 120  # an empty list/dict/set once created
KEY_ITEM_BYTES = 72  # one group value (a short str) in the key tuple
TIME_BYTES = 32  # one float in a list
VALUE_BYTES = 120  # one str -> float entry of a distinct-count dict
SEEN_BYTES = 48  # one int in a first-seen set
DISTINCT_BYTES = 90  # one str in a summary's distinct-value set
SAMPLE_BASE_BYTES = 560  # one retained Event with its dict
SAMPLE_FIELD_BYTES = 110  # one field of a retained Event

# Most distinct values a group remembers per summary field ({distinct.x}).
DISTINCT_CAP = 100


class GroupState:
    """Everything one rule remembers about one group (say, one source address).

    Only the containers its correlation type uses are filled. `touched` is the
    detector's arrival counter at the last event: the LRU order for eviction.
    """

    __slots__ = (
        "alerts", "count", "distinct", "first", "key", "last", "learn_until", "samples",
        "seen", "size", "step", "step_counts", "suppressed", "suppressed_until", "times",
        "touched", "values",
    )

    def __init__(self, key: tuple[str | None, ...], now: float) -> None:
        self.key = key
        self.first = now
        self.last = now
        self.count = 0
        # Containers are created when first written: a group holds only those its
        # correlation type needs, and fewer objects mean less garbage-collector work.
        self.times: list[float] | None = None
        self.values: dict[str, float] | None = None
        self.seen: set[int] | None = None
        self.learn_until = 0.0
        self.step = 0
        self.step_counts: list[int] | None = None
        self.distinct: dict[str, set[str]] | None = None
        self.samples: list[Event | dict[str, Any]] | None = None
        self.suppressed_until = 0.0
        self.suppressed = 0
        self.alerts = 0
        self.touched = 0
        self.size = 0

    def reset_window(self) -> None:
        """Start a new correlation window (after an alert or when the old one lapsed)."""
        self.count = 0
        self.times = None
        self.values = None
        self.step = 0
        if self.step_counts is not None:
            self.step_counts = [0] * len(self.step_counts)
        self.distinct = None
        self.samples = None

    def estimate_bytes(self) -> int:
        """An upper estimate of this group's memory, kept in `size`."""
        size = GROUP_BASE_BYTES + KEY_ITEM_BYTES * len(self.key)
        if self.times:
            size += TIME_BYTES * len(self.times) + CONTAINER_BYTES
        if self.values:
            size += VALUE_BYTES * len(self.values) + CONTAINER_BYTES
        if self.seen:
            size += SEEN_BYTES * len(self.seen) + CONTAINER_BYTES
        if self.distinct:
            size += CONTAINER_BYTES
            for values in self.distinct.values():
                size += DISTINCT_BYTES * len(values) + CONTAINER_BYTES
        if self.samples:
            size += CONTAINER_BYTES
            for sample in self.samples:
                if isinstance(sample, Event):
                    size += SAMPLE_BASE_BYTES + len(sample.message) + SAMPLE_FIELD_BYTES * len(
                        sample.fields)
                else:
                    size += SAMPLE_BASE_BYTES + 4 * len(str(sample))
        return size

    def to_json(self) -> dict[str, Any]:
        """Plain data for the state file; samples in their ECS form."""
        doc: dict[str, Any] = {"k": list(self.key), "f": self.first, "l": self.last}
        if self.count:
            doc["c"] = self.count
        if self.times:
            doc["t"] = self.times
        if self.values:
            doc["v"] = self.values
        if self.seen:
            doc["s"] = sorted(self.seen)
        if self.learn_until:
            doc["lu"] = self.learn_until
        if self.step_counts:
            doc["st"] = self.step
            doc["sc"] = self.step_counts
        if self.distinct:
            doc["d"] = {name: sorted(values) for name, values in self.distinct.items()}
        if self.samples:
            doc["e"] = [s.to_ecs() if isinstance(s, Event) else s for s in self.samples]
        if self.suppressed_until:
            doc["su"] = self.suppressed_until
            doc["sn"] = self.suppressed
        if self.alerts:
            doc["a"] = self.alerts
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> GroupState:
        """Rebuild from `to_json()`; KeyError/TypeError/ValueError on malformed data."""
        key = tuple(None if v is None else str(v) for v in doc["k"])
        group = cls(key, float(doc["f"]))
        group.last = float(doc["l"])
        group.count = int(doc.get("c", 0))
        if "t" in doc:
            group.times = [float(t) for t in doc["t"]]
        if "v" in doc:
            group.values = {str(k): float(v) for k, v in dict(doc["v"]).items()}
        if "s" in doc:
            group.seen = {int(h) for h in doc["s"]}
        group.learn_until = float(doc.get("lu", 0.0))
        group.step = int(doc.get("st", 0))
        if "sc" in doc:
            group.step_counts = [int(c) for c in doc["sc"]]
        if "d" in doc:
            group.distinct = {str(k): {str(v) for v in vs} for k, vs in dict(doc["d"]).items()}
        if "e" in doc:
            group.samples = [dict(s) for s in doc["e"]]
        group.suppressed_until = float(doc.get("su", 0.0))
        group.suppressed = int(doc.get("sn", 0))
        group.alerts = int(doc.get("a", 0))
        group.size = group.estimate_bytes()
        return group
