"""Correlation state of one group of one rule, its size estimate and its JSON form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from logsentry.core.actions import ACTIONS
from logsentry.core.event import Event

# Estimated bytes of the parts of a group (CPython 3.11, 64-bit), measured with
# tracemalloc by bench/bench_detect.py; deliberately on the high side so the
# memory cap holds for real. Checked against a flood of distinct sources through the
# shipped pack (tests/test_detect_memory.py): 781 bytes a group allocated, 1,316
# estimated (a sample shared by the rules one event hits is counted in each); with
# 1,000,000 sources and the 256 MB cap the process grew by 173 MB.
GROUP_BASE_BYTES = 300  # the object, its slots, its OrderedDict entry
CONTAINER_BYTES = 120  # an empty list/dict/set once created
KEY_ITEM_BYTES = 72  # one group value (a short str) in the key tuple
TIME_BYTES = 32  # one float in a list
VALUE_BYTES = 120  # one str -> float entry of a distinct-count dict
SEEN_BYTES = 48  # one int in a first-seen set
DISTINCT_BYTES = 110  # one str in a summary's distinct-value dict (key and entry)
SAMPLE_BASE_BYTES = 400  # one retained sample: the tuple, its scalars, the JSON string

# Most distinct values a group remembers per summary field ({distinct.x}).
DISTINCT_CAP = 100

# A group's key in `RuleEngine.groups`: the value itself for a rule grouped by one
# field (a str is never tracked by the garbage collector and needs no tuple per
# event), else the tuple of values. `GroupState.key` is always the tuple.
GroupKey = str | None | tuple[str | None, ...]

# A contributing event as kept in state: a flat tuple of immutable values, which
# the garbage collector stops tracking (thousands of groups each holding Event
# objects and dicts made collections, not correlation, the main cost).
Sample = tuple[Any, ...]
_EVENT_ATTRS = ("message", "source", "line", "received", "timestamp", "action", "template",
                "confidence", "summary")


def sample_of(event: Event) -> Sample:
    """The parts of an event an alert shows (not the pipeline's `ack` bookkeeping).

    The fields travel as one JSON string: an object the collector never tracks,
    instead of a tuple per field (and a str, because orjson's bytes keep their
    over-allocated buffer).
    """
    try:
        fields = orjson.dumps(event.fields).decode()
    except TypeError:  # a value JSON cannot hold: keep its text
        fields = orjson.dumps({k: str(v) for k, v in event.fields.items()}).decode()
    return (event.message, event.source, event.line, event.received, event.timestamp,
            event.action, event.template, event.confidence, event.summary, fields)


class SampleMemo:
    """The sample of the event being fed and its size, made once for all the rules
    that event hits. Whoever feeds events clears it (`clear()`) before an event it
    fed could change: only an event object that is still the same is recognised."""

    __slots__ = ("event", "sample", "size")

    def __init__(self) -> None:
        self.event: Event | None = None
        self.sample: Sample = ()
        self.size = 0

    def get(self, event: Event) -> Sample:
        """The sample of `event`; `size` is then its estimated bytes."""
        if self.event is not event:
            # sample_of() and sample_bytes(), inline: this runs for most selected events.
            try:
                fields = orjson.dumps(event.fields).decode()
            except TypeError:
                fields = orjson.dumps({k: str(v) for k, v in event.fields.items()}).decode()
            message = event.message
            summary = event.summary
            self.sample = (message, event.source, event.line, event.received, event.timestamp,
                           event.action, event.template, event.confidence, summary, fields)
            self.size = SAMPLE_BASE_BYTES + len(message) + len(fields) + len(summary)
            self.event = event
        return self.sample

    def clear(self) -> None:
        self.event = None
        self.sample = ()


def sample_bytes(sample: Sample) -> int:
    """Estimated bytes of one kept sample."""
    return SAMPLE_BASE_BYTES + len(sample[0]) + len(sample[-1]) + len(sample[8])


def sample_event(sample: Sample) -> Event:
    """The event a kept sample was made of (a copy: changing it changes nothing kept)."""
    message, source, line, received, stamp, action, template, confidence, summary, fields = sample
    return Event(message, source, line, received=received, timestamp=stamp,
                 fields=orjson.loads(fields), action=action, template=template,
                 confidence=confidence, summary=summary)


def sample_ecs(sample: Sample) -> dict[str, Any]:
    """The ECS document of a kept sample."""
    return sample_event(sample).to_ecs()


def sample_to_json(sample: Sample) -> list[Any]:
    """A sample as plain data for the state file (the timestamp as epoch seconds)."""
    stamp = sample[4]
    return [*sample[:4], stamp.timestamp() if stamp is not None else None, *sample[5:]]


def sample_from_json(data: list[Any]) -> Sample:
    """The inverse of `sample_to_json`; ValueError/TypeError on malformed data."""
    if not isinstance(data, list) or len(data) != len(_EVENT_ATTRS) + 1:
        raise ValueError("malformed sample")
    message, source, line, received, stamp, action, template, confidence, summary, fields = data
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} in sample")
    orjson.loads(fields)  # must be a JSON document
    return (str(message), str(source), int(line), float(received),
            datetime.fromtimestamp(float(stamp), UTC) if stamp is not None else None,
            action, str(template), float(confidence), str(summary), str(fields))


class GroupState:
    """Everything one rule remembers about one group (say, one source address).

    Only the containers its correlation type uses are filled. `touched` is the
    detector's arrival counter at the last event: the LRU order for eviction.
    """

    __slots__ = (
        "alerts", "count", "distinct", "extra_bytes", "first", "group_key", "last",
        "learn_until", "samples",
        "seen", "size", "snap", "step", "step_counts", "suppressed", "suppressed_until", "times",
        "touched", "values",
    )

    def __init__(self, key: GroupKey, now: float) -> None:
        # The key as the rule's groups are indexed by it (see GroupKey): a group
        # of a rule grouped by one field holds no tuple of its own (one object
        # fewer per group for the garbage collector to count and visit).
        self.group_key = key[0] if isinstance(key, tuple) and len(key) == 1 else key
        self.first = now
        self.last = now
        self.count = 0
        # Containers are created when first written: a group holds only those its
        # correlation type needs, and fewer objects mean less garbage-collector work.
        # Sequences are tuples, replaced when they change: a tuple of numbers or
        # strings drops out of the collector's sight, where a list or set stays.
        self.times: tuple[float, ...] | None = None
        self.values: dict[str, float] | None = None
        self.seen: set[int] | None = None
        self.learn_until = 0.0
        self.step = 0
        self.step_counts: tuple[int, ...] | None = None
        # Field -> its distinct values in arrival order (at most DISTINCT_CAP), as the
        # keys of a dict: a lookup compares hashes, where a tuple compared the new
        # value with every kept one, each a cache miss of its own (and a dict of
        # strings, like a tuple, drops out of the garbage collector's sight).
        self.distinct: dict[str, dict[str, None]] | None = None
        self.samples: tuple[Sample, ...] | None = None
        self.suppressed_until = 0.0
        self.suppressed = 0
        self.alerts = 0
        self.touched = 0
        # The generation of the last checkpoint that holds this group (see
        # detector.Checkpoint): copy-on-write for the one being written.
        self.snap = 0
        self.size = 0
        self.extra_bytes = 0  # samples and distinct-value sets, kept up to date

    @property
    def key(self) -> tuple[str | None, ...]:
        """The group's values, one per `group_by` field."""
        key = self.group_key
        return key if isinstance(key, tuple) else (key,)

    def frozen_copy(self) -> GroupState:
        """A copy that later changes to this group leave alone (copy-on-write for a
        checkpoint): the containers changed in place are copied, the tuples shared.
        About half the cost of `to_json()` (4.5 against 10.5 µs a group of the bench's
        flood), which the writer thread then does instead of the detection thread."""
        twin = GroupState.__new__(GroupState)
        twin.group_key = self.group_key
        twin.first = self.first
        twin.last = self.last
        twin.count = self.count
        twin.times = self.times
        twin.values = dict(self.values) if self.values is not None else None
        twin.seen = set(self.seen) if self.seen is not None else None
        twin.learn_until = self.learn_until
        twin.step = self.step
        twin.step_counts = self.step_counts
        twin.distinct = ({name: dict(values) for name, values in self.distinct.items()}
                         if self.distinct is not None else None)
        twin.samples = self.samples
        twin.suppressed_until = self.suppressed_until
        twin.suppressed = self.suppressed
        twin.alerts = self.alerts
        twin.touched = self.touched
        twin.snap = self.snap
        twin.size = self.size
        twin.extra_bytes = self.extra_bytes
        return twin

    def reset_window(self) -> None:
        """Start a new correlation window (after an alert or when the old one lapsed)."""
        self.count = 0
        self.times = None
        self.values = None
        self.step = 0
        if self.step_counts is not None:
            self.step_counts = (0,) * len(self.step_counts)
        self.distinct = None
        self.samples = None
        self.extra_bytes = 0

    def estimate_bytes(self) -> int:
        """An upper estimate of this group's memory, kept in `size` (O(1): samples and
        distinct values are accounted in `extra_bytes` as they are added).
        `RuleEngine.feed` computes the same inline: change both together."""
        size = GROUP_BASE_BYTES + KEY_ITEM_BYTES * len(self.key) + self.extra_bytes
        if self.times:
            size += TIME_BYTES * len(self.times) + CONTAINER_BYTES
        if self.values:
            size += VALUE_BYTES * len(self.values) + CONTAINER_BYTES
        if self.seen:
            size += SEEN_BYTES * len(self.seen) + CONTAINER_BYTES
        return size

    def recount_extra_bytes(self) -> None:
        """Recompute `extra_bytes` from scratch (after a restore)."""
        extra = 0
        if self.distinct:
            extra += CONTAINER_BYTES
            for values in self.distinct.values():
                extra += DISTINCT_BYTES * len(values) + CONTAINER_BYTES
        if self.samples:
            extra += CONTAINER_BYTES + sum(sample_bytes(s) for s in self.samples)
        self.extra_bytes = extra

    def to_json(self) -> dict[str, Any]:
        """Plain data for the state file."""
        doc: dict[str, Any] = {"k": list(self.key), "f": self.first, "l": self.last}
        if self.count:
            doc["c"] = self.count
        if self.times:
            doc["t"] = self.times
        if self.values:
            doc["v"] = dict(self.values)  # a copy: the group changes it in place
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
            doc["e"] = [sample_to_json(s) for s in self.samples]
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
            group.times = tuple(float(t) for t in doc["t"])
        if "v" in doc:
            group.values = {str(k): float(v) for k, v in dict(doc["v"]).items()}
        if "s" in doc:
            group.seen = {int(h) for h in doc["s"]}
        group.learn_until = float(doc.get("lu", 0.0))
        group.step = int(doc.get("st", 0))
        if "sc" in doc:
            group.step_counts = tuple(int(c) for c in doc["sc"])
        if "d" in doc:
            group.distinct = {str(k): dict.fromkeys(str(v) for v in vs)
                              for k, vs in dict(doc["d"]).items()}
        if "e" in doc:
            group.samples = tuple(sample_from_json(s) for s in doc["e"])
        group.suppressed_until = float(doc.get("su", 0.0))
        group.suppressed = int(doc.get("sn", 0))
        group.alerts = int(doc.get("a", 0))
        group.recount_extra_bytes()
        group.size = group.estimate_bytes()
        return group
