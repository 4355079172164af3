"""The detection stage: rules over labelled events, bounded state, alerts out.

The pipeline calls `process()` with batches in order, `tick()` about once a
second, `begin_checkpoint()` after a batch and `save_state()` on shutdown.
Windows run on event time (the line's timestamp, else its arrival), so a
replayed file raises the alerts it raised live, with the same ids.

A checkpoint is the state between two batches together with the source
positions it reflects (one file, written atomically): after a crash the
sources resume from those positions and the lines since are detected again on
top of that state, so a crash changes no alert. Checkpoints never stall
detection for long: taking one copies references, copy-on-write keeps it
exact, and a writer thread serializes and writes it.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from logsentry.core.actions import ACTIONS
from logsentry.core.alert import Alert
from logsentry.core.atomicfile import write_atomic
from logsentry.core.collector import collect_young
from logsentry.core.errors import ConfigError
from logsentry.core.event import Event
from logsentry.core.memory import release_free_memory
from logsentry.core.metrics import (
    DETECTION_EVICTIONS,
    STATE_SAVE_FAILURES,
    STATE_SAVE_PAUSE,
    STATE_SAVE_SECONDS,
)
from logsentry.detect.config import DetectionConfig
from logsentry.detect.group import GroupKey, GroupState, SampleMemo
from logsentry.detect.group_table import Shard
from logsentry.detect.literals import ALL_FOUND, MessageScanner
from logsentry.detect.resident import ResidentCeiling
from logsentry.detect.rule import (
    DEFAULT_RULES_DIR,
    Rule,
    SingleCorrelation,
    configured_rule_paths,
    load_rule_sets,
)
from logsentry.detect.rule_state import RuleEngine, event_failed
from logsentry.detect.shaped import ShapedMatcher

if TYPE_CHECKING:
    from logsentry.detect.sigma.ruleset import SigmaRuleSet

log = structlog.get_logger(__name__)

STATE_FILE = "detection.json"
# Version 2 adds the source positions the state reflects; version 3 holds the groups
# as slices in the order they were serialized (`"slices": [[rule id, [group, ...]],
# ...]`, the fingerprints apart), so that a checkpoint is written while it is walked
# instead of held whole in memory first. Files of versions 1 and 2 are still read.
STATE_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
# A line stamped further than this ahead of its arrival has a bogus (or
# hostile) timestamp: trusting it would jump the clock and expire every window.
MAX_FUTURE_SKEW = 3600.0
# Eviction frees down to this share of the cap, so it runs in bursts, not per event.
EVICT_TO = 0.9
# Opportunistic expiry every this many events, for callers that never tick(), of at
# most EXPIRE_BUDGET groups and for about EXPIRE_SECONDS (the tick's too): the rest is
# left to the next. Expiring up to 20,000 groups at once took 40 to 150 ms inside a
# batch, and ticks up to 118 ms, at 961,986 groups. The cadence stays 4,096: expiry is
# not neutral to a late event (one older than the watermark may find its group gone),
# so a different cadence changes alerts (every 512 events: 432 against 429 alerts on
# mixed200k).
EXPIRE_EVERY = 4096
EXPIRE_BUDGET = 20_000
EXPIRE_SECONDS = 0.005
# The process's resident set is read at most this often (seconds): a read costs about
# 14 µs, once a batch of a few dozen lines was 0.5 µs a line, and a flood at 5,000
# lines/s grows the state by about 2 MB in this time.
RESIDENT_EVERY = 0.25
# Expiry looks at the clock every this many groups dropped.
_EXPIRE_CLOCK_EVERY = 64
# Groups a checkpoint writer serializes per turn of the detection lock: the
# longest the detection thread waits for it (about 0.3 ms). Small slices also
# free their temporary dicts before the garbage collector sees many of them.
SAVE_SLICE = 64
# The most keys of groups already written one step of the walk looks past (`_push`):
# with 256, one writer slice still took 33 ms at a million groups.
SAVE_SKIP = 64
# After each slice the writer sleeps this long, so that a detection thread waiting
# for the lock gets it, and the interpreter lock with it. Without it the writer took
# the lock again at once, and the detection thread, woken but without the
# interpreter lock, waited for it a switch interval (20 ms) at a time, again and
# again: a batch of 30 ms took up to 2.5 s during a save at 840,000 groups.
WRITER_YIELD = 0.0002
# Share of a batch's time the detection thread then spends on the checkpoint being
# written (at most SAVE_HELP seconds a batch): a detection thread that is never idle
# would otherwise never leave the writer the lock, and the copies kept for a
# checkpoint that is never finished would pile up.
SAVE_SHARE = 0.25
SAVE_HELP = 0.01
# ...and only while the batch and its share stay under this: a share that grows with
# the batch made the slowest batches slower still (a 40 ms batch took 50 with its
# 10 ms share, at a million groups). A batch past it serializes one slice, so that
# a detection thread whose every batch is slow still moves the checkpoint on.
SAVE_BATCH_MAX = 0.04
# The detection thread's share stops while this many bytes of serialized slices wait
# for the writer, which takes them when it gets the interpreter lock (at times not for
# a second or more). Unbounded, up to 67 MB waited at 391,697 groups, allocated by the
# detection thread: freed, they left its heap fragmented (once 391 MB free in it), and
# the malloc_trim after the save held that heap's lock, the detection thread's
# allocations waiting, while it handed the pages back (up to 123 ms at a million groups).
SAVE_PENDING_MAX = 2 << 20
# One writer at a time per state file (a reloaded detector's save may overlap
# its predecessor's): write_atomic's temporary file is the same for both.
_WRITE_LOCKS: dict[Path, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
# Checkpoint generations, process-wide: groups shared by a reloaded detector
# never mistake another detector's checkpoint for their own.
_GENERATIONS = itertools.count(1)


def _write_lock(path: Path) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.Lock())


class Checkpoint:
    """The detection state as it was between two batches, serialized a slice at a time.

    Taking one costs the detection thread nothing that grows with the state: it
    marks a new generation. The state is then walked, a slice of groups at a time
    under the detection lock (`advance`), least recently touched first across rules
    and shards (the order eviction takes them in), each group serialized and left in
    its place. The writer thread advances it whenever detection leaves it the lock,
    and the detection thread advances it a little after each batch (a share of the
    batch's time), so that a busy detection thread neither waits for the writer nor
    starves it. Copy-on-write keeps it one instant meanwhile: before the detection
    thread changes a group not yet written it keeps that group's copy (`preserve`); a
    group opened afterwards carries the generation from birth and is left out; one
    dropped (expiry, eviction) before its turn is kept aside and written as it was
    (`dropped`), first, before the walk goes on, and at once after an eviction
    (`let_go`). Under a flood of new sources at the memory cap eviction drops groups
    as fast as they come: walked rule by rule, each shard's groups moved to the back
    as they were written, the groups eviction took were the unwritten ones, kept
    beside the groups that replaced them, and the daemon outgrew the cap during saves.
    Walked in eviction's order, the groups evicted are those already written (the walk
    is faster than eviction), which free their memory at once. `positions` (the
    source positions the state reflects) are filled in by the pipeline once every
    batch before the checkpoint is committed.
    """

    def __init__(self, engines: list[RuleEngine], watermark: float, lock: threading.Lock) -> None:
        self.generation = next(_GENERATIONS)
        self.engines = list(engines)
        self.watermark = watermark
        self.taken_at = time.time()
        self.positions: dict[str, Any] = {}
        # (rule id, group) to write apart from the walk: copies of groups as they were
        # before a change, and groups dropped before their turn.
        self._aside: deque[tuple[str, GroupState]] = deque()
        self._lock = lock
        # Progress of the serialization (changed under the detection lock only).
        # Serialized slices not yet handed to the writer: `[rule id, [group, ...]]` each.
        self._out: list[bytes] = []
        self._out_bytes = 0
        # The walk: per shard (rule engine, the shard until its keys are listed, its keys
        # in least-recently-used order), and a heap of (touched, index there, position in
        # its keys) holding each shard's next group to write.
        self._orders: list[tuple[RuleEngine, Shard | None, list[GroupKey]]] | None = None
        self._heap: list[tuple[int, int, int]] = []
        self._walked = False
        self.serialized = False
        # Why the state could not be serialized (a value JSON cannot hold), if so.
        self.failed: str | None = None

    def preserve(self, engine: RuleEngine, group: GroupState) -> None:
        """Keep `group` as it is now (detection thread, holding the lock, before a change)."""
        self._aside.append((engine.rule.id, group.frozen_copy()))
        group.snap = self.generation

    def dropped(self, engine: RuleEngine, group: GroupState) -> None:
        """`group` left its rule (detection thread): written as it is, if not yet."""
        if group.snap != self.generation:
            self._aside.append((engine.rule.id, group))

    def advance(self, until: float | None = None) -> bool:
        """Serialize slices of groups, one if `until` is None, else until that
        `time.perf_counter()` is passed or SAVE_PENDING_MAX bytes wait for the writer;
        True once everything is serialized. The caller holds the detection lock. A value
        that cannot be serialized ends it: `failed`."""
        try:
            while not self.serialized:
                if until is not None and self._out_bytes >= SAVE_PENDING_MAX:
                    break
                if self._aside:
                    self._aside_slice()
                elif not self._walked:
                    self._walk_slice()
                else:
                    # The walk is over: no group is changed or dropped unwritten any more.
                    self.serialized = True
                if until is None or time.perf_counter() >= until:
                    break
        except TypeError as exc:
            self._fail(exc)
        return self.serialized

    def let_go(self) -> None:
        """Serialize every group kept aside now (detection thread, holding the lock), after
        an eviction that dropped groups before their turn (it overtook the walk): kept as
        they were until written, they stayed allocated beside the groups that replaced
        them. Encoded, a group of a flood takes 375 bytes, against 781 allocated live,
        and its memory is free at once for the next groups. (The work the walk would do
        for them, done earlier.)"""
        try:
            while self._aside:
                self._aside_slice()
        except TypeError as exc:
            self._fail(exc)

    def _fail(self, exc: TypeError) -> None:
        """A value JSON cannot hold: the checkpoint is over, and not written."""
        self.failed = str(exc)
        self.serialized = True
        self._out, self._aside = [], deque()
        self._out_bytes = 0

    def _walk_slice(self) -> None:
        """Serialize the SAVE_SLICE least recently touched groups not yet written, across
        rules and shards: the order eviction takes them in."""
        if self._orders is None:
            self._start_walk()
        orders, heap, generation = self._orders, self._heap, self.generation
        assert orders is not None
        docs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(SAVE_SLICE):
            if not heap:
                self._walked = True
                break
            _, index, at = heapq.heappop(heap)
            engine, shard, keys = orders[index]
            if shard is not None:
                # The walk comes to this shard: its keys are listed (a slice of its own,
                # 0.4 µs a key: listing all at once took 420 ms at a million groups).
                orders[index] = (engine, None, list(shard))
                self._push(index, 0)
                break
            group = engine.groups.get(keys[at])
            # Changed (copied) or dropped since it was pushed: written apart.
            if group is not None and group.snap != generation:
                docs.setdefault(engine.rule.id, []).append(group.to_json())
                group.snap = generation
            self._push(index, at + 1)
        for rule_id, rule_docs in docs.items():
            self._keep(orjson.dumps([rule_id, rule_docs]))

    def _start_walk(self) -> None:
        """Each shard on the heap by its oldest group. A table of one shard (a split would
        replace it) has its keys listed now, at most SPLIT_AT of them; the shards of a
        split table, which stay, when the walk comes to each."""
        self._orders = []
        for engine in self.engines:
            table = engine.groups
            if table.single is not None:
                self._orders.append((engine, None, list(table.single)))
                self._push(len(self._orders) - 1, 0)
                continue
            for shard in table.shards:
                # Listed whatever its oldest group: one copied in place (a Sigma window
                # closed) may come before groups still to write.
                front = next(iter(shard.values()), None)
                if front is not None:
                    self._orders.append((engine, shard, []))
                    heapq.heappush(self._heap, (front.touched, len(self._orders) - 1, 0))

    def _push(self, index: int, at: int) -> None:
        """Put the first group of shard `index` from `at` on that is still to write on the
        heap. (A group still to write was not touched since the checkpoint was taken, so
        its place in the keys and its `touched` are still its place in the LRU order.)
        At most SAVE_SKIP keys are looked at: the end of a shard's keys is the groups
        touched or opened during the save, all written already, and scanning thousands
        of them for each of the many shards that end in one slice held the lock for up to
        180 ms at a million groups. Where the scan stops, it goes on from its position
        the next time the heap gives it (the pop checks the group again)."""
        assert self._orders is not None
        engine, _, keys = self._orders[index]
        groups, generation = engine.groups, self.generation
        stop = min(len(keys), at + SAVE_SKIP)
        while at < stop:
            group = groups.get(keys[at])
            if group is not None and group.snap != generation:
                heapq.heappush(self._heap, (group.touched, index, at))
                return
            at += 1
        if at < len(keys):
            heapq.heappush(self._heap, (0, index, at))
            return
        self._orders[index] = (engine, None, [])  # walked: its keys go

    def _aside_slice(self) -> None:
        """Serialize up to SAVE_SLICE of the copies and dropped groups, by rule. (A dropped
        group copied before it left is not among them: its copy is.)"""
        aside = self._aside
        docs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(min(SAVE_SLICE, len(aside))):
            rule_id, group = aside.popleft()
            docs.setdefault(rule_id, []).append(group.to_json())
        for rule_id, rule_docs in docs.items():
            self._keep(orjson.dumps([rule_id, rule_docs]))

    def _keep(self, piece: bytes) -> None:
        self._out.append(piece)
        self._out_bytes += len(piece)

    def take(self) -> list[bytes]:
        """The slices serialized since the last call (the caller holds the detection lock)."""
        out, self._out = self._out, []
        self._out_bytes = 0
        return out

    def pieces(self, lock: threading.Lock | None) -> Iterator[bytes]:
        """The state file's content, serialized while it is written: slices are produced
        under `lock` (None: the caller is the detection thread, or it is stopped),
        sleeping WRITER_YIELD between them, and handed out as they come, so that only a
        few are in memory at a time. TypeError if serializing `failed`."""
        fingerprints = {engine.rule.id: engine.fingerprint for engine in self.engines}
        yield (b'{"version":' + orjson.dumps(STATE_VERSION)
               + b',"saved_at":' + orjson.dumps(self.taken_at)
               + b',"watermark":' + orjson.dumps(self.watermark)
               + b',"positions":' + orjson.dumps(self.positions)
               + b',"fingerprints":' + orjson.dumps(fingerprints) + b',"slices":[')
        first = True
        done = False
        while not done:
            with lock if lock is not None else contextlib.nullcontext():
                done = self.advance()
                out = self.take()
            if self.failed is not None:
                # Raised into the writer: the temporary file is never renamed into place.
                raise TypeError(self.failed)
            if out:
                # One write a turn: each write lets go of the interpreter lock and needs it
                # back, and while the detection thread runs a batch, getting it back takes
                # it from that thread (after a switch interval), which then waits to be
                # scheduled again. Written piece by piece, the slices the detection thread
                # serialized (up to SAVE_PENDING_MAX bytes) cost it two such switches
                # each. (The join copies at most that much.)
                yield b",".join([b"", *out] if not first else out)
                first = False
            if lock is not None and not done:
                time.sleep(WRITER_YIELD)
        yield b"]}"


@dataclass(slots=True)
class RestoredState:
    """What `restore_state` found: shown at start, and the positions sources resume from."""

    path: Path
    saved_at: float
    groups: int
    positions: dict[str, Any]

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.saved_at)


def switch_rules(rules: list[Rule], enable: list[str], disable: list[str]) -> list[Rule]:
    """`rules` with those named in `enable` switched on and those in `disable` off.

    Raises ConfigError for an id no rule has, or one named in both lists.
    """
    known = {rule.id for rule in rules}
    unknown = sorted(set(enable + disable) - known)
    if unknown:
        raise ConfigError(f"detection.enable/disable: no loaded rule has the id "
                          f"{', '.join(unknown)}")
    both = sorted(set(enable) & set(disable))
    if both:
        raise ConfigError(f"detection.enable/disable: {', '.join(both)} named in both")
    switched = {rule_id: True for rule_id in enable} | {rule_id: False for rule_id in disable}
    return [rule.model_copy(update={"enabled": switched[rule.id]})
            if rule.id in switched and switched[rule.id] != rule.enabled else rule
            for rule in rules]


class Detector:
    """Runs the loaded rules over events; holds and persists their correlation state."""

    def __init__(
        self,
        rules: list[Rule],
        *,
        memory_cap_bytes: int = 256 * 1024 * 1024,
        state_path: Path | None = None,
        persist_interval: float = 5.0,
        max_samples: int = 5,
        sigma: SigmaRuleSet | None = None,
    ) -> None:
        self.engines = [RuleEngine(rule, max_samples) for rule in rules if rule.enabled]
        # One sample per event for all the rules it hits; cleared after each batch.
        self._memo = SampleMemo()
        for engine in self.engines:
            engine.memo = self._memo
        self._all_rules = list(rules)
        # Where the rules came from and how many each gave (set by from_config).
        self.loaded_from: list[tuple[str, int]] = []
        self.memory_cap_bytes = memory_cap_bytes
        self.state_path = state_path
        self.persist_interval = persist_interval
        self.max_samples = max_samples
        self.evictions = 0
        # Estimated bytes of the process's other memory that grows with distinct input
        # (the analyzer's caches), counted against the same cap: set by the daemon.
        self.outside_bytes: Callable[[], int] | None = None
        # The process's resident growth, measured against the same cap (what no estimate
        # sees: allocator overhead, groups a checkpoint holds, queued batches): set by
        # the daemon.
        self.resident: ResidentCeiling | None = None
        self._resident_at = -math.inf  # time.monotonic() of the last read
        self.watermark = 0.0
        self._seq = 0
        self._since_expiry = 0
        # The rule the next expiry begins with (the one the last stopped in).
        self._expire_from = 0
        self._wall_at_watermark = time.time()
        self._last_save = time.monotonic()
        self._dirty = False
        self._last_eviction_log = -1e9
        # The literals the rules need in a message, found in a batch at once (None: no
        # Hyperscan, or no rule needs any): a rule whose literals are absent is skipped.
        self._scanner = MessageScanner.for_selections([e.rule.select for e in self.engines])
        self._by_action = self._index()
        self.sigma = sigma
        self._sigma_engines = self._add_sigma(sigma)
        # Whether some windows are decided as they close (Sigma upper bounds, metrics).
        self._closing = sigma is not None and bool(sigma.closing)
        self._single_rules = frozenset(
            engine.rule.id for engine in self.engines
            if isinstance(engine.rule.correlate, SingleCorrelation))
        # Held by the detection thread while it changes groups, and by a checkpoint
        # writer while it serializes a slice of them.
        self._lock = threading.Lock()
        # The checkpoint taken and not yet written (copy-on-write is on while there
        # is one), the thread writing it, and the events processed since the last.
        self._checkpoint: Checkpoint | None = None
        self._writer: threading.Thread | None = None
        self._events_since_checkpoint = 0
        self._last_save_seconds = 0.0
        self.restored: RestoredState | None = None

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_config(cls, config: DetectionConfig, state_dir: Path | None) -> Detector:
        """Load the configured rules (the default pack when none) and restore saved state.

        Raises `logsentry.config.ConfigError` naming file, rule and key on a bad rule.
        """
        detector = cls._build(config, state_dir)
        detector.restore_state()
        return detector

    @classmethod
    def _build(cls, config: DetectionConfig, state_dir: Path | None) -> Detector:
        rule_sets = load_rule_sets(configured_rule_paths(config))
        rules = switch_rules([rule for _, loaded in rule_sets for rule in loaded],
                             config.enable, config.disable)
        detector = cls(
            rules,
            memory_cap_bytes=config.memory_cap_mb * 1024 * 1024,
            state_path=(state_dir / STATE_FILE) if state_dir is not None else None,
            persist_interval=config.persist_interval,
            max_samples=config.alert_events,
            sigma=load_sigma_rules(config),
        )
        detector.loaded_from = [
            (("pack " if path == DEFAULT_RULES_DIR else "") + str(path), len(rules))
            for path, rules in rule_sets]
        return detector

    def loaded_summary(self) -> str:
        """What is loaded, for the start-up log: `pack /x (51 rules), /etc/a.yaml (2 rules)`."""
        if not self.loaded_from:
            return "no rules"
        return ", ".join(f"{where} ({count} rule{'s' if count != 1 else ''})"
                         for where, count in self.loaded_from)

    def reload(self, config: DetectionConfig) -> Detector:
        """A detector with the new configuration's rules, keeping the state of unchanged rules.

        A rule is unchanged when its id and everything that shapes its state
        (selection, correlation, grouping, summary) are. Raises ConfigError and
        leaves this detector as it was when the new rules do not load.
        """
        state_dir = self.state_path.parent if self.state_path is not None else None
        fresh = Detector._build(config, state_dir)
        old = {engine.rule.id: engine for engine in self.engines}
        for engine in fresh.engines:
            previous = old.get(engine.rule.id)
            if previous is not None and previous.fingerprint == engine.fingerprint:
                engine.groups = previous.groups
        for engine in fresh.engines:
            engine.memory_bytes = sum(g.size for g in engine.groups.values())
            engine.restored()
        fresh.evictions = self.evictions
        fresh.outside_bytes = self.outside_bytes
        fresh.resident = self.resident
        if fresh.resident is not None:
            fresh.resident.cap_bytes = fresh.memory_cap_bytes
        fresh.watermark = self.watermark
        fresh._seq = self._seq
        fresh._wall_at_watermark = self._wall_at_watermark
        fresh._dirty = True
        fresh._enforce_cap()
        # The groups move to `fresh`, whose lock guards them from now on: this
        # detector's checkpoint, if one is being written, is finished first, and
        # one not yet handed to a writer is dropped (`fresh` saves the same groups).
        self.wait_for_save()
        self._drop_checkpoint()
        return fresh

    def _index(self) -> dict[str, tuple[ShapedMatcher, list[RuleEngine]]]:
        """Per action, the rules that can select it and one matcher testing them all.

        Actions with the same rules share one matcher (most actions are only
        seen by the rules that select on fields, not on actions).
        """
        shared: dict[tuple[int, ...], tuple[ShapedMatcher, list[RuleEngine]]] = {}
        index: dict[str, tuple[ShapedMatcher, list[RuleEngine]]] = {}
        for name in ACTIONS:
            engines = [e for e in self.engines if e.actions is None or name in e.actions]
            if not engines:
                continue
            key = tuple(id(e) for e in engines)
            if key not in shared:
                shared[key] = (ShapedMatcher([e.rule.select for e in engines], self._scanner),
                               engines)
            index[name] = shared[key]
        return index

    # -- Sigma rules (detect/sigma/) ------------------------------------------------

    def _add_sigma(self, sigma: SigmaRuleSet | None) -> list[RuleEngine]:
        """The Sigma rules' engines, joined to `engines` (state, expiry, memory cap and
        saving as for native rules) but left out of the action index: their own
        matcher selects their events in `process`."""
        if sigma is None:
            return []
        engines = sigma.engines(self.max_samples)
        for engine in engines:
            engine.memo = self._memo
        self.engines.extend(engines)
        return engines

    @property
    def rules(self) -> list[Rule]:
        """The loaded rules (disabled ones included)."""
        return list(self._all_rules)

    # -- the hot path ---------------------------------------------------------------

    def process(self, events: list[Event]) -> list[Alert]:
        """Run every rule over a batch (in order); return the alerts it raised."""
        alerts: list[Alert] = []
        by_action = self._by_action
        watermark = self.watermark
        seq = self._seq
        # Lines of one second share their timestamp object: convert it once.
        last_stamp: datetime | None = None
        last_time = 0.0
        # Uncontended except while a checkpoint writer serializes a slice.
        self._lock.acquire()
        began = time.perf_counter()
        try:
            scanner = self._scanner
            # Per event, the literals its message holds (every bit set: all rules tested).
            found_masks = (scanner.scan(events) if scanner is not None
                           else [ALL_FOUND] * len(events))
            for event, found in zip(events, found_masks, strict=True):
                entry = by_action.get(event.action)
                if entry is None:
                    continue
                shaped, engines = entry
                try:
                    # The matcher for this event's field names (ShapedMatcher.__call__,
                    # inline: this runs for every event).
                    fields = event.fields
                    match = shaped.by_keys.get(tuple(fields)) or shaped.specialise(fields)
                    hits = match(event, found)
                except Exception:  # a bug or odd input must not stop detection
                    event_failed(event, "rule selection")
                    continue
                if not hits:
                    continue  # most events: no rule selects them
                # event_time(), inline: this runs for most events.
                stamp = event.timestamp
                received = event.received
                if stamp is None:
                    when = received
                elif stamp is last_stamp:
                    when = last_time
                else:
                    when = last_time = stamp.timestamp()
                    last_stamp = stamp
                if received and when > received + MAX_FUTURE_SKEW:
                    when = received
                if when > watermark:
                    watermark = when
                raised_before = len(alerts)
                for index in hits:
                    engine = engines[index]
                    seq += 1
                    try:
                        alert = engine.feed(event, when, seq)
                    except Exception:  # a bug or odd input must not stop detection
                        event_failed(event, "detection", engine.rule.id)
                        continue
                    if alert is not None:
                        # logsentry_alerts is counted by the pipeline's output stage.
                        alerts.append(alert)
                if len(alerts) - raised_before > 1:
                    self._one_alert_per_finding(alerts, raised_before)
            if self.sigma is not None:
                seq, watermark = self.sigma.process(events, self._sigma_engines, seq,
                                                    watermark, alerts, MAX_FUTURE_SKEW)
            if self._closing:
                # The windows this batch's time has passed (a replay ticks only at its end).
                closed, seq = self._close_windows(watermark, seq)
                alerts += closed
            checkpoint = self._checkpoint
            if checkpoint is not None and not checkpoint.serialized:
                # A share of this batch's time for the checkpoint (see SAVE_SHARE).
                now = time.perf_counter()
                spent = now - began
                checkpoint.advance(now + max(0.0, min(SAVE_HELP, spent * SAVE_SHARE,
                                                      SAVE_BATCH_MAX - spent)))
        finally:
            self._lock.release()
            # No sample outlives the batch: the caller may change its events afterwards.
            self._memo.clear()
            if seq != self._seq:
                self._seq = seq
                self._dirty = True
            if watermark > self.watermark:
                self.watermark = watermark
                self._wall_at_watermark = time.time()
        if events:
            self._events_since_checkpoint += len(events)
            self._since_expiry += len(events)
            if self._since_expiry >= EXPIRE_EVERY:
                self._since_expiry = 0
                self.expire(self.watermark, EXPIRE_BUDGET, EXPIRE_SECONDS)
        # Summed once a batch (a sum over every rule), for the resident read and the cap.
        memory = self.memory_bytes
        read_at = time.monotonic()
        if self.resident is not None and read_at - self._resident_at >= RESIDENT_EVERY:
            self._resident_at = read_at
            outside = self.outside_bytes() if self.outside_bytes is not None else 0
            self.resident.update(memory + outside, memory)
        if memory > self.state_cap_bytes:
            self._enforce_cap(memory)
        if self._checkpoint is not None and events:
            collect_young()
        return alerts

    def _one_alert_per_finding(self, alerts: list[Alert], start: int) -> None:
        """Of the alerts one event raised from `start` on, those of single-event rules are
        one finding (an XSS payload that the analyzer also reads as an attack): keep the
        first in pack order (a file lists its specific rules before the catch-all ones)
        with the highest severity and every technique of them, naming the others in
        `logsentry.also_matched`. Their suppression runs as if they had alerted."""
        singles = [i for i in range(start, len(alerts))
                   if alerts[i].rule_id in self._single_rules]
        if len(singles) < 2:
            return
        kept = alerts[singles[0]]
        merged = [alerts[i] for i in singles[1:]]
        top = max([kept, *merged], key=lambda alert: alert.severity_score)
        kept.severity = top.severity
        kept.techniques += [t for a in merged for t in a.techniques if t not in kept.techniques]
        kept.extra["also_matched"] = [alert.rule_id for alert in merged]
        for i in reversed(singles[1:]):
            del alerts[i]

    @staticmethod
    def event_time(event: Event) -> float:
        """The event's time for windows: its own, unless implausibly ahead of its arrival."""
        when = event.event_time
        if event.received and when > event.received + MAX_FUTURE_SKEW:
            return event.received
        return when

    @property
    def memory_bytes(self) -> int:
        """Estimated bytes of all correlation state (what the memory cap limits)."""
        return sum(engine.memory_bytes for engine in self.engines)

    @property
    def state_cap_bytes(self) -> int:
        """What the correlation state may hold now: the cap less the other memory counted
        against it (`outside_bytes`), and no more than the process's resident growth
        leaves it (`resident`), but never less than half the cap (the analyzer's
        caches are bounded on their own, by default to half the default cap)."""
        cap = self.memory_cap_bytes
        limit = cap if self.outside_bytes is None else cap - self.outside_bytes()
        if self.resident is not None and self.resident.ceiling < limit:
            limit = int(self.resident.ceiling)
        return max(limit, cap // 2)

    # -- time, memory, persistence ----------------------------------------------------

    def tick(self, now: float) -> list[Alert]:
        """Time-driven work, called about once a second with the wall-clock time.

        Decides the windows that have closed and expires lapsed groups (event time
        advances with the wall clock between batches). Returns the alerts of closed
        windows (Sigma correlations with an upper bound or a metric).
        """
        event_now = self.watermark + max(0.0, now - self._wall_at_watermark)
        alerts: list[Alert] = []
        if self._closing:
            with self._lock:
                alerts, self._seq = self._close_windows(event_now, self._seq)
            if alerts:
                self._dirty = True
        self.expire(event_now, EXPIRE_BUDGET, EXPIRE_SECONDS)
        return alerts

    def close_all_windows(self) -> list[Alert]:
        """At the end of a finite input (`analyze`, `sigma test`): every open window is
        decided, as no line can come into it any more. Returns their alerts."""
        if not self._closing:
            return []
        with self._lock:
            alerts, self._seq = self._close_windows(math.inf, self._seq)
        if alerts:
            self._dirty = True
        return alerts

    def _close_windows(self, event_now: float, seq: int) -> tuple[list[Alert], int]:
        """The alerts of windows closed by `event_now`, and the arrival counter advanced
        (the lock held)."""
        assert self.sigma is not None
        try:
            return self.sigma.close_windows(self._sigma_engines, event_now, seq)
        finally:
            self._memo.clear()

    # -- checkpoints ------------------------------------------------------------------

    @property
    def saving(self) -> bool:
        """Whether a checkpoint is taken and not yet written."""
        return self._checkpoint is not None or (
            self._writer is not None and self._writer.is_alive())

    def checkpoint_due(self) -> bool:
        """Whether `begin_checkpoint` would take one now.

        Every `persist_interval` when anything was processed or changed, none while
        the last one is being written, and no more often than a save takes (a
        large state is not saved back to back).
        """
        return (self.state_path is not None and not self.saving
                and (self._dirty or self._events_since_checkpoint > 0)
                and time.monotonic() - self._last_save
                >= max(self.persist_interval, self._last_save_seconds))

    def begin_checkpoint(self) -> Checkpoint | None:
        """Take a checkpoint of the state as it is now, if one is due (detection thread,
        between batches); None otherwise. Hand it to `write_checkpoint` once the
        positions it reflects are committed."""
        if not self.checkpoint_due():
            return None
        began = time.perf_counter()
        self._last_save = time.monotonic()
        with self._lock:
            checkpoint = Checkpoint(self.engines, self.watermark, self._lock)
            for engine in self.engines:
                engine.cow = checkpoint
        # Changes from here on are the next checkpoint's.
        self._dirty = False
        self._events_since_checkpoint = 0
        self._checkpoint = checkpoint
        STATE_SAVE_PAUSE.observe(time.perf_counter() - began)
        return checkpoint

    @property
    def checkpointing(self) -> bool:
        """Whether this detector keeps checkpoints (it has a state file)."""
        return self.state_path is not None

    def write_checkpoint(self, checkpoint: Checkpoint, positions: dict[str, Any],
                         written: Callable[[], None] | None = None) -> None:
        """Serialize and write `checkpoint` with `positions` in a background thread; then
        call `written` (in that thread) if the file was written."""
        if checkpoint is not self._checkpoint or self.state_path is None:
            return  # superseded (a shutdown save, a reload)
        checkpoint.positions = dict(positions)
        self._writer = threading.Thread(target=self._write_checkpoint,
                                        args=(checkpoint, written),
                                        name="detection-checkpoint", daemon=True)
        self._writer.start()

    def _write_checkpoint(self, checkpoint: Checkpoint,
                          written: Callable[[], None] | None = None) -> None:
        began = time.perf_counter()
        try:
            ok = self._write(checkpoint.pieces(self._lock))
        finally:
            self._drop_checkpoint(checkpoint)
        if not ok:
            return
        # The encoded slices are freed: give their pages back (off the detection thread).
        release_free_memory()
        self._last_save_seconds = time.perf_counter() - began
        STATE_SAVE_SECONDS.observe(self._last_save_seconds)
        if written is not None:
            written()

    def _drop_checkpoint(self, checkpoint: Checkpoint | None = None) -> None:
        """Copy-on-write off: `checkpoint` (or whichever is pending) is written or dropped."""
        with self._lock:
            if checkpoint is None or self._checkpoint is checkpoint:
                self._checkpoint = None
                for engine in self.engines:
                    engine.cow = None

    def wait_for_save(self, timeout: float | None = None) -> bool:
        """Wait until the checkpoint being written in the background is; False on timeout."""
        writer = self._writer
        if writer is not None:
            writer.join(timeout)
            return not writer.is_alive()
        return True

    def _write(self, pieces: Iterator[bytes]) -> bool:
        """Write the state file (any thread); on failure log it and save again later."""
        assert self.state_path is not None
        try:
            # Piece by piece as they are serialized (os.write runs without the GIL):
            # serializing all of it first held the whole encoded state, about 100 MB at
            # the default memory cap, while the file was written.
            with _write_lock(self.state_path):
                write_atomic(self.state_path, pieces)
        except (OSError, TypeError) as exc:
            self._dirty = True
            STATE_SAVE_FAILURES.inc()
            log.error("cannot save detection state", path=str(self.state_path), error=str(exc))
            return False
        return True

    def expire(self, event_now: float, budget: int, seconds: float | None = None) -> int:
        """Drop groups with nothing left that matters at `event_now`: at most `budget`,
        and if `seconds` is given, for about that long. A call cut short leaves the rest
        to the next, which begins with the rule it stopped in."""
        dropped = 0
        deadline = None if seconds is None else time.perf_counter() + seconds
        # A checkpoint writer reorders the groups it walks: check and pop as one.
        with self._lock:
            engines = self.engines
            for step in range(len(engines)):
                at = (self._expire_from + step) % len(engines)
                engine = engines[at]
                cow = engine.cow
                stop = False
                # Each group the loop goes on past is popped (see oldest_first).
                for group in engine.groups.oldest_first():
                    if dropped >= budget or (
                            deadline is not None and dropped % _EXPIRE_CLOCK_EVERY == 0
                            and dropped and time.perf_counter() >= deadline):
                        stop = True
                        break
                    if not engine.expired(group, event_now):
                        break
                    if cow is not None:
                        cow.dropped(engine, group)
                    engine.memory_bytes -= group.size
                    dropped += 1
                if stop:
                    self._expire_from = at
                    break
        if dropped:
            self._dirty = True
        return dropped

    def _enforce_cap(self, memory: int | None = None) -> None:
        """Evict least recently touched groups (across rules) until under the cap;
        `memory` is `memory_bytes` when the caller has just summed it.

        A heap of the oldest group of each shard of each rule makes every eviction
        O(log shards).
        """
        target = self.state_cap_bytes * EVICT_TO
        if memory is None:
            memory = self.memory_bytes
        if memory <= target:
            return
        with self._lock:  # a checkpoint writer reorders the groups it walks
            evicted = self._evict(memory, target)
        if evicted:
            self.evictions += evicted
            DETECTION_EVICTIONS.inc(evicted)
            self._dirty = True
            now = time.monotonic()
            # Under a flood this runs every few thousand events: log once a minute.
            if now - self._last_eviction_log >= 60.0:
                log.warning("detection memory cap reached: least recently used groups evicted",
                            evicted_total=self.evictions,
                            cap_mb=self.memory_cap_bytes // (1024 * 1024))
                self._last_eviction_log = now

    def _evict(self, memory: int, target: float) -> int:
        """Pop least recently touched groups until `memory` is under `target`; how many.

        The heap holds the oldest group of every shard of every rule's GroupTable."""
        heap = [(next(iter(shard.values())).touched, i, at)
                for i, e in enumerate(self.engines)
                for at, shard in enumerate(e.groups.shards) if shard]
        heapq.heapify(heap)
        evicted = 0
        checkpoint: Checkpoint | None = None
        while heap and memory > target:
            _, index, at = heap[0]
            engine = self.engines[index]
            shard = engine.groups.shards[at]
            _, group = shard.popitem(last=False)
            if engine.cow is not None:
                engine.cow.dropped(engine, group)
                checkpoint = engine.cow
            engine.memory_bytes -= group.size
            memory -= group.size
            evicted += 1
            if shard:
                heapq.heapreplace(heap, (next(iter(shard.values())).touched, index, at))
            else:
                heapq.heappop(heap)
        if checkpoint is not None:
            # What it dropped before its turn is written now, not kept (see let_go).
            checkpoint.let_go()
        return evicted

    @property
    def group_count(self) -> int:
        return sum(len(engine.groups) for engine in self.engines)

    def save_state(self, positions: dict[str, Any] | None = None) -> bool:
        """Write all correlation state, with the source `positions` it reflects, to the
        state file now (atomically), blocking until it is written (on shutdown, once
        the pipeline drained); errors are logged. Supersedes a pending checkpoint.
        True when written."""
        self._last_save = time.monotonic()
        if self.state_path is None:
            return False
        self.wait_for_save()
        self._drop_checkpoint()
        began = time.perf_counter()
        checkpoint = Checkpoint(self.engines, self.watermark, self._lock)
        checkpoint.positions = dict(positions or {})
        if not self._write(checkpoint.pieces(None)):
            return False
        self._dirty = False
        self._events_since_checkpoint = 0
        STATE_SAVE_SECONDS.observe(time.perf_counter() - began)
        return True

    def restore_state(self) -> None:
        """Load the state file if there is one; a corrupt or stale file is logged and ignored."""
        if self.state_path is None or not self.state_path.exists():
            return
        # Rebuilding a large state makes many long-lived objects at once, which set
        # off full collections over the growing state again and again (half of a
        # 180,000-group restore's time): the collector waits until it is built. The
        # garbage there is is collected first, and what is alive once the state is
        # built is frozen (see core/collector.py): the groups, acyclic, never pass
        # through a full collection, which at a million groups would stall detection
        # for seconds soon after start.
        collecting = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            self._restore_state(self.state_path)
        finally:
            gc.freeze()
            if collecting:
                gc.enable()

    def _restore_state(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read detection state", path=str(path), error=str(exc))
            return
        try:
            doc = orjson.loads(data)
            if not isinstance(doc, dict) or doc.get("version") not in READABLE_VERSIONS:
                raise ValueError(f"unsupported state version {doc.get('version')!r}"
                                 if isinstance(doc, dict) else "not an object")
            restored: dict[str, list[GroupState]] = {}
            if doc["version"] >= 3:
                fingerprints = dict(doc["fingerprints"])
                for rule_id, saved in doc["slices"]:
                    restored.setdefault(str(rule_id), []).extend(
                        GroupState.from_json(g) for g in saved)
            else:
                for rule_id, saved in dict(doc["rules"]).items():
                    restored[rule_id] = [GroupState.from_json(g) for g in saved["groups"]]
                fingerprints = {rule_id: saved["fingerprint"]
                                for rule_id, saved in dict(doc["rules"]).items()}
            watermark = float(doc.get("watermark", 0.0))
            saved_at = float(doc.get("saved_at", 0.0))
            positions = doc.get("positions") or {}
            if not isinstance(positions, dict):
                raise ValueError("positions: not an object")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("detection state file is corrupt; starting with empty state",
                      path=str(path), error=str(exc))
            return
        kept = 0
        for engine in self.engines:
            groups = restored.get(engine.rule.id)
            if not groups or fingerprints.get(engine.rule.id) != engine.fingerprint:
                continue  # a changed rule starts afresh
            for group in sorted(groups, key=lambda g: g.last):
                self._seq += 1
                group.touched = self._seq
                engine.groups[engine.dict_key(group.key)] = group
                engine.memory_bytes += group.size
                kept += 1
            engine.restored()
        self.watermark = max(self.watermark, watermark)
        if self.memory_bytes > self.memory_cap_bytes:
            # As in process(): only past the cap (a state saved at 95% of it was
            # cut to 90% on every restart).
            self._enforce_cap()
        self.restored = RestoredState(path, saved_at, kept, positions)
        log.info("detection state restored", groups=kept, path=str(path),
                 age_s=round(self.restored.age, 1), sources=sorted(positions))


def load_sigma_rules(config: DetectionConfig) -> SigmaRuleSet | None:
    """The configured Sigma rules (None when there are none); pySigma is imported only
    when some are configured."""
    if not config.sigma.rules:
        return None
    from logsentry.detect.sigma.ruleset import SigmaRuleSet

    return SigmaRuleSet.from_config(config.sigma)
