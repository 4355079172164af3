"""The detection stage: rules over labelled events, bounded state, alerts out.

The pipeline calls `process()` with batches in order, `tick()` about once a
second, `save_state()` on shutdown and `reload()` on SIGHUP. Windows run on
event time (the line's timestamp, else its arrival), so a replayed file raises
the alerts it raised live.

Periodic saves never stall detection for long: `tick()` serializes the state a
few milliseconds at a time (a large state over several ticks) and a background
thread writes the file.
"""

from __future__ import annotations

import gc
import heapq
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import structlog

from logsentry.core.actions import ACTIONS
from logsentry.core.alert import Alert
from logsentry.core.atomicfile import write_atomic
from logsentry.core.errors import ConfigError
from logsentry.core.event import Event
from logsentry.core.metrics import DETECTION_EVICTIONS, LINES_FAILED
from logsentry.detect.config import DetectionConfig
from logsentry.detect.group import GroupState, SampleMemo
from logsentry.detect.rule import (
    DEFAULT_RULES_DIR,
    Rule,
    SingleCorrelation,
    configured_rule_paths,
    load_rule_sets,
)
from logsentry.detect.rule_state import RuleEngine
from logsentry.detect.shaped import ShapedMatcher

if TYPE_CHECKING:
    from logsentry.detect.sigma.ruleset import SigmaRuleSet

log = structlog.get_logger(__name__)

STATE_FILE = "detection.json"
STATE_VERSION = 1
# A line stamped further than this ahead of its arrival has a bogus (or
# hostile) timestamp: trusting it would jump the clock and expire every window.
MAX_FUTURE_SKEW = 3600.0
# Eviction frees down to this share of the cap, so it runs in bursts, not per event.
EVICT_TO = 0.9
# Opportunistic expiry every this many events, for callers that never tick().
EXPIRE_EVERY = 4096
EXPIRE_BUDGET = 20_000
# A periodic save serializes groups for at most this long per tick; a large
# state is written over several ticks instead of stalling detection (180,000
# groups took about 3 s in one go).
SAVE_STEP_SECONDS = 0.02
# Groups serialized per orjson call. Their temporary dicts and lists are freed
# before the garbage collector sees many of them: a whole state's worth set off
# full collections over all the groups, most of a big save's time.
SAVE_SLICE = 64
# A state file this small is written by tick() itself, as before; a larger one
# by a background thread (the write and its fsync release the GIL).
INLINE_WRITE_BYTES = 1 << 20
# One writer at a time per state file (a reloaded detector's save may overlap
# its predecessor's): write_atomic's temporary file is the same for both.
_WRITE_LOCKS: dict[Path, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(path, threading.Lock())


class StateSnapshot:
    """One save of the detection state in progress, serialized a slice at a time.

    The groups to write are those present when the save began; each is written
    as it is when its slice is serialized (a save spread over ticks is not one
    instant, which a restart point need not be). Groups evicted or expired in the
    meantime are left out, groups opened in the meantime wait for the next save.
    The file format is the one `Detector.restore_state` reads (version 1).
    """

    def __init__(self, engines: list[RuleEngine]) -> None:
        self._rules = [(engine, list(engine.groups.values())) for engine in engines
                       if engine.groups]
        self._rule = 0
        self._next = 0
        # The file's content in pieces, joined by the writer: joining (and faulting
        # in) tens of MB is no work for the detection thread.
        self._parts: list[bytes] = []
        self._rule_open = False
        self.groups = 0

    def step(self, deadline: float | None) -> bool:
        """Serialize slices until `deadline` (time.monotonic(); None: to the end).

        True when every group is serialized. TypeError if a value cannot be.
        """
        parts = self._parts
        while self._rule < len(self._rules):
            engine, groups = self._rules[self._rule]
            live = engine.groups
            dict_key = engine.dict_key
            while self._next < len(groups):
                start = self._next
                self._next = start + SAVE_SLICE
                docs = [group.to_json() for group in groups[start:self._next]
                        if live.get(dict_key(group.key)) is group]
                if docs:
                    if self._rule_open:
                        parts.append(b",")
                    else:
                        parts.append(
                            (b"," if self.groups else b"") + orjson.dumps(engine.rule.id)
                            + b':{"fingerprint":' + orjson.dumps(engine.fingerprint)
                            + b',"groups":[')
                        self._rule_open = True
                    parts.append(orjson.dumps(docs)[1:-1])  # the items, no brackets
                    self.groups += len(docs)
                if deadline is not None and time.monotonic() >= deadline:
                    return False
            if self._rule_open:
                parts.append(b"]}")
                self._rule_open = False
            self._rule += 1
            self._next = 0
        return True

    def document(self, watermark: float) -> list[bytes]:
        """The state file's content in pieces (b"".join them), once `step()` returned True."""
        return [
            b'{"version":' + orjson.dumps(STATE_VERSION)
            + b',"saved_at":' + orjson.dumps(time.time())
            + b',"watermark":' + orjson.dumps(watermark) + b',"rules":{',
            *self._parts, b"}}",
        ]


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
        persist_interval: float = 30.0,
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
        self.watermark = 0.0
        self._seq = 0
        self._since_expiry = 0
        self._wall_at_watermark = time.time()
        self._last_save = time.monotonic()
        self._dirty = False
        self._last_eviction_log = -1e9
        self._by_action = self._index()
        self.sigma = sigma
        self._sigma_engines = self._add_sigma(sigma)
        self._single_rules = frozenset(
            engine.rule.id for engine in self.engines
            if isinstance(engine.rule.correlate, SingleCorrelation))
        # A periodic save in progress (serialized over ticks), and the thread
        # writing the last one.
        self._snapshot: StateSnapshot | None = None
        self._writer: threading.Thread | None = None

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
        fresh.evictions = self.evictions
        fresh.watermark = self.watermark
        fresh._seq = self._seq
        fresh._wall_at_watermark = self._wall_at_watermark
        fresh._dirty = True
        fresh._enforce_cap()
        # This detector's periodic save, if one is under way, is left unfinished:
        # `fresh` saves the same groups (the write lock orders the writers).
        self._snapshot = None
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
                shared[key] = (ShapedMatcher([e.rule.select for e in engines]), engines)
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
        try:
            for event in events:
                entry = by_action.get(event.action)
                if entry is None:
                    continue
                shaped, engines = entry
                try:
                    # The matcher for this event's field names (ShapedMatcher.__call__,
                    # inline: this runs for every event).
                    fields = event.fields
                    match = shaped.by_keys.get(tuple(fields)) or shaped.specialise(fields)
                    hits = match(event)
                except Exception:  # a bug or odd input must not stop detection
                    LINES_FAILED.labels(stage="detect").inc()
                    log.exception("rule selection failed on an event", source=event.source,
                                  line=event.line)
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
                        LINES_FAILED.labels(stage="detect").inc()
                        log.exception("detection failed on an event", rule=engine.rule.id,
                                      source=event.source, line=event.line)
                        continue
                    if alert is not None:
                        # logsentry_alerts is counted by the pipeline's output stage.
                        alerts.append(alert)
                if len(alerts) - raised_before > 1:
                    self._one_alert_per_finding(alerts, raised_before)
            if self.sigma is not None:
                seq, watermark = self.sigma.process(events, self._sigma_engines, seq,
                                                    watermark, alerts, MAX_FUTURE_SKEW)
        finally:
            # No sample outlives the batch: the caller may change its events afterwards.
            self._memo.clear()
            if seq != self._seq:
                self._seq = seq
                self._dirty = True
            if watermark > self.watermark:
                self.watermark = watermark
                self._wall_at_watermark = time.time()
        if events:
            self._since_expiry += len(events)
            if self._since_expiry >= EXPIRE_EVERY:
                self._since_expiry = 0
                self.expire(self.watermark, EXPIRE_BUDGET)
        if self.memory_bytes > self.memory_cap_bytes:
            self._enforce_cap()
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

    # -- time, memory, persistence ----------------------------------------------------

    def tick(self, now: float) -> list[Alert]:
        """Time-driven work, called about once a second with the wall-clock time.

        Expires lapsed groups (event time advances with the wall clock between
        batches) and persists state every `persist_interval`. Returns alerts
        raised by time alone (none with the current correlation types).
        """
        event_now = self.watermark + max(0.0, now - self._wall_at_watermark)
        self.expire(event_now, EXPIRE_BUDGET)
        if self._snapshot is not None:
            self._continue_save()
        elif (self._dirty and self.state_path is not None
              and time.monotonic() - self._last_save >= self.persist_interval
              and not self.saving):
            self._last_save = time.monotonic()
            # Changes from here on are the next save's.
            self._dirty = False
            self._snapshot = StateSnapshot(self.engines)
            self._continue_save()
        return []

    @property
    def saving(self) -> bool:
        """Whether a periodic save is being serialized or written."""
        return self._snapshot is not None or (
            self._writer is not None and self._writer.is_alive())

    def wait_for_save(self, timeout: float | None = None) -> bool:
        """Wait until the state file being written in the background is; False on timeout.

        A save still being serialized over ticks is not waited for (it needs ticks).
        """
        writer = self._writer
        if writer is not None:
            writer.join(timeout)
            return not writer.is_alive()
        return True

    def _continue_save(self) -> None:
        """One tick's share of a periodic save; hand the file to a writer once complete."""
        snapshot = self._snapshot
        assert snapshot is not None
        try:
            if not snapshot.step(time.monotonic() + SAVE_STEP_SECONDS):
                return
            data = snapshot.document(self.watermark)
        except TypeError as exc:
            self._snapshot = None
            self._dirty = True
            log.error("cannot save detection state", path=str(self.state_path), error=str(exc))
            return
        self._snapshot = None
        if sum(len(part) for part in data) <= INLINE_WRITE_BYTES:
            self._write(data)
            return
        self._writer = threading.Thread(target=self._write, args=(data,),
                                        name="detection-state-writer", daemon=True)
        self._writer.start()

    def _write(self, parts: list[bytes]) -> bool:
        """Write the state file (any thread); on failure log it and save again later."""
        assert self.state_path is not None
        try:
            # A large join copies without the GIL (as do the write and fsync).
            data = b"".join(parts)
            with _write_lock(self.state_path):
                write_atomic(self.state_path, data)
        except OSError as exc:
            self._dirty = True
            log.error("cannot save detection state", path=str(self.state_path), error=str(exc))
            return False
        return True

    def expire(self, event_now: float, budget: int) -> int:
        """Drop groups with nothing left that matters at `event_now`; at most `budget`."""
        dropped = 0
        for engine in self.engines:
            groups = engine.groups
            while groups and dropped < budget:
                group = next(iter(groups.values()))
                if not engine.expired(group, event_now):
                    break
                groups.popitem(last=False)
                engine.memory_bytes -= group.size
                dropped += 1
        if dropped:
            self._dirty = True
        return dropped

    def _enforce_cap(self) -> None:
        """Evict least recently touched groups (across rules) until under the cap.

        A heap of each rule's oldest group makes every eviction O(log rules).
        """
        target = self.memory_cap_bytes * EVICT_TO
        memory = self.memory_bytes
        if memory <= target:
            return
        heap = [(next(iter(e.groups.values())).touched, i)
                for i, e in enumerate(self.engines) if e.groups]
        heapq.heapify(heap)
        evicted = 0
        while heap and memory > target:
            _, index = heap[0]
            engine = self.engines[index]
            groups = engine.groups
            _, group = groups.popitem(last=False)
            engine.memory_bytes -= group.size
            memory -= group.size
            evicted += 1
            if groups:
                heapq.heapreplace(heap, (next(iter(groups.values())).touched, index))
            else:
                heapq.heappop(heap)
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

    @property
    def group_count(self) -> int:
        return sum(len(engine.groups) for engine in self.engines)

    def save_state(self) -> None:
        """Write all correlation state to the state file now (atomically), blocking until
        it is written (on shutdown); errors are logged. Supersedes a periodic save."""
        self._last_save = time.monotonic()
        self._snapshot = None
        if self.state_path is None:
            return
        self.wait_for_save()
        snapshot = StateSnapshot(self.engines)
        try:
            snapshot.step(None)
            data = snapshot.document(self.watermark)
        except TypeError as exc:
            log.error("cannot save detection state", path=str(self.state_path), error=str(exc))
            return
        if self._write(data):
            self._dirty = False

    def restore_state(self) -> None:
        """Load the state file if there is one; a corrupt or stale file is logged and ignored."""
        if self.state_path is None:
            return
        # Rebuilding a large state makes many long-lived objects at once, which set
        # off full collections over the growing state again and again (half of a
        # 180,000-group restore's time): the collector waits until it is built.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._restore_state(self.state_path)
        finally:
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
            if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported state version {doc.get('version')!r}"
                                 if isinstance(doc, dict) else "not an object")
            restored: dict[str, list[GroupState]] = {}
            for rule_id, saved in dict(doc["rules"]).items():
                restored[rule_id] = [GroupState.from_json(g) for g in saved["groups"]]
            fingerprints = {rule_id: saved["fingerprint"]
                            for rule_id, saved in dict(doc["rules"]).items()}
            watermark = float(doc.get("watermark", 0.0))
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
        self.watermark = max(self.watermark, watermark)
        if self.memory_bytes > self.memory_cap_bytes:
            # As in process(): only past the cap (a state saved at 95% of it was
            # cut to 90% on every restart).
            self._enforce_cap()
        log.info("detection state restored", groups=kept, path=str(path))


def load_sigma_rules(config: DetectionConfig) -> SigmaRuleSet | None:
    """The configured Sigma rules (None when there are none); pySigma is imported only
    when some are configured."""
    if not config.sigma.rules:
        return None
    from logsentry.detect.sigma.ruleset import SigmaRuleSet

    return SigmaRuleSet.from_config(config.sigma)
