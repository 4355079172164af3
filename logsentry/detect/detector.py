"""The detection stage: rules over labelled events, bounded state, alerts out.

The pipeline calls `process()` with batches in order, `tick()` about once a
second, `save_state()` on shutdown and `reload()` on SIGHUP. Windows run on
event time (the line's timestamp, else its arrival), so a replayed file raises
the alerts it raised live.
"""

from __future__ import annotations

import heapq
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from logsentry.alert import Alert
from logsentry.analysis.actions import ACTIONS
from logsentry.atomicfile import write_atomic
from logsentry.detect.config import DetectionConfig
from logsentry.detect.engine import RuleEngine
from logsentry.detect.group import GroupState, SampleMemo
from logsentry.detect.rule import DEFAULT_RULES_DIR, Rule, load_rules
from logsentry.detect.selection import Matcher, compile_matcher
from logsentry.event import Event
from logsentry.metrics import DETECTION_EVICTIONS, LINES_FAILED

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
    ) -> None:
        self.engines = [RuleEngine(rule, max_samples) for rule in rules if rule.enabled]
        # One sample per event for all the rules it hits; cleared after each batch.
        self._memo = SampleMemo()
        for engine in self.engines:
            engine.memo = self._memo
        self._all_rules = list(rules)
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
        paths = [Path(p) for p in config.rules] or [DEFAULT_RULES_DIR]
        rules = load_rules(paths)
        return cls(
            rules,
            memory_cap_bytes=config.memory_cap_mb * 1024 * 1024,
            state_path=(state_dir / STATE_FILE) if state_dir is not None else None,
            persist_interval=config.persist_interval,
            max_samples=config.alert_events,
        )

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
        return fresh

    def _index(self) -> dict[str, tuple[Matcher, list[RuleEngine]]]:
        """Per action, the rules that can select it and one function testing them all.

        Actions with the same rules share one matcher (most actions are only
        seen by the rules that select on fields, not on actions).
        """
        shared: dict[tuple[int, ...], tuple[Matcher, list[RuleEngine]]] = {}
        index: dict[str, tuple[Matcher, list[RuleEngine]]] = {}
        for name in ACTIONS:
            engines = [e for e in self.engines if e.actions is None or name in e.actions]
            if not engines:
                continue
            key = tuple(id(e) for e in engines)
            if key not in shared:
                shared[key] = (compile_matcher([e.rule.select for e in engines]), engines)
            index[name] = shared[key]
        return index

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
                match, engines = entry
                try:
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
        if self._dirty and time.monotonic() - self._last_save >= self.persist_interval:
            self.save_state()
        return []

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
        """Write all correlation state to the state file (atomically); errors are logged."""
        self._last_save = time.monotonic()
        if self.state_path is None:
            return
        doc: dict[str, Any] = {
            "version": STATE_VERSION,
            "saved_at": time.time(),
            "watermark": self.watermark,
            "rules": {
                engine.rule.id: {
                    "fingerprint": engine.fingerprint,
                    "groups": [group.to_json() for group in engine.groups.values()],
                }
                for engine in self.engines if engine.groups
            },
        }
        try:
            write_atomic(self.state_path, orjson.dumps(doc))
        except (OSError, TypeError) as exc:
            log.error("cannot save detection state", path=str(self.state_path), error=str(exc))
            return
        self._dirty = False

    def restore_state(self) -> None:
        """Load the state file if there is one; a corrupt or stale file is logged and ignored."""
        if self.state_path is None:
            return
        try:
            data = self.state_path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read detection state", path=str(self.state_path), error=str(exc))
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
                      path=str(self.state_path), error=str(exc))
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
        self._enforce_cap()
        log.info("detection state restored", groups=kept, path=str(self.state_path))
