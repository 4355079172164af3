"""The loaded Sigma rules at work in the detector: which rules an event matches, and
feeding those events to the rules' correlation state.

Selection runs in three steps per event: the prefilter names the rules whose
literals occur in it (a constant cost whatever the number of rules), the log source
of each candidate is tested once per event and source, and the candidates' compiled
conditions decide. The matched events then go to `RuleEngine`s, the very state
native rules keep (grouping, suppression, samples, the memory cap, saving), which the
detector owns along with its native rules' engines. A match of a rule that correlation
rules name also feeds their engines (`feeds`); a rule named only by correlations that
do not `generate` its own alerts feeds theirs alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import compress
from pathlib import Path
from typing import cast

import structlog

from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.detect.group import GroupKey
from logsentry.detect.rule import Rule
from logsentry.detect.rule_state import RuleEngine, event_failed
from logsentry.detect.sigma.config import SigmaConfig
from logsentry.detect.sigma.correlation import ClosingEngine, CorrelationEngine
from logsentry.detect.sigma.load import LoadedSigma, SkippedRule, load_sigma
from logsentry.detect.sigma.prefilter import Prefilter

log = structlog.get_logger(__name__)


class SigmaRuleSet:
    """Compiled Sigma rules, shared by every detector that runs them (read-only)."""

    def __init__(self, loaded: LoadedSigma) -> None:
        self.loaded = loaded
        specs = loaded.rules
        correlations = loaded.correlations
        # The rules (and their engines): the rules that match events, then the
        # correlation rules over their matches.
        self.rules: list[Rule] = ([spec.rule for spec in specs]
                                  + [spec.rule for spec in correlations])
        self.paths: list[str] = ([spec.path for spec in specs]
                                 + [spec.path for spec in correlations])
        self.matching = len(specs)
        self.prefilter = Prefilter([spec.need for spec in specs])
        self._predicates = [spec.predicate for spec in specs]
        # Rules whose literal found in the message is their verdict (plain keywords).
        self._decided = [spec.decided_by_literal for spec in specs]
        # One test per distinct log source, evaluated at most once per event.
        sources: dict[object, int] = {}
        self._sources: list[Callable[[Event], bool]] = []
        self._source_of: list[int] = []
        for spec in specs:
            if spec.logsource is None:
                self._source_of.append(-1)
                continue
            index = sources.get(spec.logsource_key)
            if index is None:
                index = sources[spec.logsource_key] = len(self._sources)
                self._sources.append(spec.logsource)
            self._source_of.append(index)
        # The rules the prefilter cannot narrow, by log source: each source is tested
        # once per event and only its rules are candidates (not all of them each time).
        always: dict[int, list[int]] = {}
        for index in self.prefilter.always:
            always.setdefault(self._source_of[index], []).append(index)
        self._always = [(source, tuple(indexes)) for source, indexes in sorted(always.items())]
        # The same with each source's test (None: any event), for lines where the
        # prefilter found nothing (most lines): each source is then tested once anyway.
        self._always_tests = [(None if source < 0 else self._sources[source], indexes)
                              for source, indexes in self._always]
        # The engines (indexes into `rules`) a match of each rule feeds, each with the
        # rule's position among those its correlation names (-1: a rule's own engine);
        # for a correlation rule, the engines its alerts feed (correlations of it).
        named: set[int] = set()
        generated: set[int] = set()
        feeds: list[list[tuple[int, int]]] = [[] for _ in self.rules]
        for offset, correlation in enumerate(correlations):
            for source, position in correlation.feeds:
                feeds[source].append((len(specs) + offset, position))
                named.add(source)
                if correlation.sigma.generate:
                    generated.add(source)
        # Rules (and correlation rules) named by correlations only with `generate: false`
        # raise no alert of their own.
        self.silent = frozenset(named - generated)
        self.feeds: list[tuple[tuple[int, int], ...]] = [
            tuple(([] if index in self.silent or index >= len(specs) else [(index, -1)])
                  + feeds[index])
            for index in range(len(self.rules))]
        # Whether a rule's match feeds its own engine and nothing else (a single-event
        # rule: process() answers its suppressed groups inline, as feed() would).
        self._own = [self.feeds[index] == ((index, -1),) for index in range(len(specs))]
        # What check-config says of a rule beside its title.
        quiet = "no alerts of its own (named by correlations)"
        self.notes: list[str] = [quiet if index in self.silent else ""
                                 for index in range(len(specs))]
        self.notes.extend(
            f"{c.sigma.type.name.lower()} of "
            + ", ".join(ref.reference for ref in c.sigma.rules or ())
            + (f"; {quiet}" if len(specs) + offset in self.silent else "")
            for offset, c in enumerate(correlations))
        # Correlation engines that count an event once, whichever named rules it matched.
        self._once = frozenset(len(specs) + offset for offset, c in enumerate(correlations)
                               if c.once_per_event)
        # The correlation engines whose windows are decided as they close.
        self.closing = tuple(len(specs) + offset for offset, c in enumerate(correlations)
                             if c.bounds is not None)

    @classmethod
    def from_config(cls, config: SigmaConfig, paths: list[Path] | None = None,
                    ) -> SigmaRuleSet | None:
        """The rule set of the configured paths (or `paths`); None when there are none."""
        if paths is None and not config.rules:
            return None
        return cls(load_sigma(config, paths))

    @property
    def skipped(self) -> list[SkippedRule]:
        return self.loaded.skipped

    def matches(self, event: Event, found: Sequence[int] | None = None,
                in_message: bool = False) -> list[int]:
        """Indexes of the rules `event` matches, in rule order (`found`: what the
        prefilter found in it, when the caller has it already; `in_message`: found in
        the message alone, which decides the rules of plain keywords)."""
        if found is None:
            found = self.prefilter.found(event)
        predicates = self._predicates
        hits: list[int] = []
        if not found:
            for test, indexes in self._always_tests:
                if test is None or test(event):
                    for index in indexes:
                        if predicates[index](event):
                            hits.append(index)
            if len(hits) > 1:
                hits.sort()  # the sources' groups are not in rule order
            return hits
        verdicts: dict[int, bool] = {}
        sources = self._sources
        for source, indexes in self._always:
            if source >= 0:
                verdict = verdicts.get(source)
                if verdict is None:
                    verdict = verdicts[source] = sources[source](event)
                if not verdict:
                    continue
            for index in indexes:
                if predicates[index](event):
                    hits.append(index)
        unsorted = bool(hits)
        source_of = self._source_of
        decided = self._decided
        for index in found:
            source = source_of[index]
            if source >= 0:
                verdict = verdicts.get(source)
                if verdict is None:
                    verdict = verdicts[source] = sources[source](event)
                if not verdict:
                    continue
            if (in_message and decided[index]) or predicates[index](event):
                hits.append(index)
        if unsorted:
            hits.sort()
        return hits

    def engines(self, max_samples: int) -> list[RuleEngine]:
        """Fresh state for every rule (one detector's), in the order of `rules`."""
        engines = [RuleEngine(spec.rule, max_samples) for spec in self.loaded.rules]
        engines.extend(ClosingEngine(spec, max_samples) if spec.bounds is not None
                       else CorrelationEngine(spec, max_samples)
                       for spec in self.loaded.correlations)
        return engines

    def process(
        self, events: list[Event], engines: list[RuleEngine], seq: int, watermark: float,
        alerts: list[Alert], max_future_skew: float,
    ) -> tuple[int, float]:
        """Match a batch and feed the matches to `engines` (this set's, in rule order);
        append alerts. Returns the detector's arrival counter and watermark, advanced."""
        feeds = self.feeds
        once = self._once
        own = self._own
        matches = self.matches
        try:
            # The prefilter's finds for the whole batch: one scan for all its lines.
            founds: Sequence[Sequence[int] | None]
            founds, alone = self.prefilter.scan_batch(events)
        except Exception:  # a bug or odd input: each line is searched on its own
            log.exception("Sigma prefilter failed on a batch")
            founds, alone = [None] * len(events), [False] * len(events)
        always = self._always_tests
        predicates = self._predicates
        look: Sequence[int]
        try:
            # The lines worth a look, and those of each log source the prefilter's
            # narrowless rules need: most lines have neither and are passed over here.
            look, passed = self._lines_to_look_at(events, founds)
        except Exception:  # a bug or odd input: every line is looked at, one by one
            log.exception("Sigma log source tests failed on a batch")
            look, passed = range(len(events)), [None] * len(always)
        for position in look:
            event, found, in_message = events[position], founds[position], alone[position]
            try:
                if found is not None and not found:
                    # Nothing found: the rules the prefilter cannot narrow, inline (as
                    # matches() does), for the log sources the line passed.
                    hits = []
                    for (test, indexes), lines in zip(always, passed, strict=True):
                        if (position in lines if lines is not None
                                else test is None or test(event)):
                            for index in indexes:
                                if predicates[index](event):
                                    hits.append(index)
                    if not hits:
                        continue
                    hits.sort()
                else:
                    hits = matches(event, found, in_message)
            except Exception:  # a bug or odd input must not stop detection
                event_failed(event, "Sigma rule selection")
                continue
            if not hits:
                continue
            when = event.event_time
            if event.received and when > event.received + max_future_skew:
                when = event.received
            if when > watermark:
                watermark = when
            # The correlation engines this event has fed (only an event that several
            # rules match can feed one twice).
            fed: set[int] | None = set() if len(hits) > 1 else None
            # The event's group key for the rules' own engines, which all group by
            # `detection.sigma.group_by`: found once, whichever of them it feeds.
            key: tuple[GroupKey] | None = None
            for index in hits:
                if own[index]:
                    # Its own engine alone (most rules), inline: no correlation to count
                    # once per event.
                    engine = engines[index]
                    seq += 1
                    try:
                        if key is None:
                            key = (engine.group_key(event),)
                        shard = engine.groups.shard(key[0])
                        group = shard.get(key[0])
                        if (group is not None and group.suppressed_until > when
                                and engine.cow is None):
                            # feed()'s path for a suppressed group, inline: the event is
                            # counted for the group's next alert (a line that many rules
                            # match comes again and again while they are suppressed).
                            shard.move_to_end(key[0])
                            group.touched = seq
                            if when > group.last:
                                group.last = when
                            group.suppressed += 1
                            continue
                        alert = engine.feed(event, when, seq, key)
                    except Exception:  # a bug or odd input must not stop detection
                        event_failed(event, "detection", engine.rule.id)
                        continue
                    if alert is not None:
                        seq = self._raised(index, alert, event, when, seq, engines, alerts)
                    continue
                for target, via in feeds[index]:
                    if fed is not None and target in once:
                        if target in fed:
                            continue
                        fed.add(target)
                    # _feed(), inline: this runs for every event a rule matches.
                    engine = engines[target]
                    seq += 1
                    try:
                        if via < 0:
                            if key is None:
                                key = (engine.group_key(event),)
                            alert = engine.feed(event, when, seq, key)
                        else:
                            alert = cast(CorrelationEngine, engine).feed_via(event, when, seq,
                                                                             via)
                    except Exception:  # a bug or odd input must not stop detection
                        event_failed(event, "detection", engine.rule.id)
                        continue
                    if alert is not None:
                        seq = self._raised(target, alert, event, when, seq, engines, alerts)
        return seq, watermark

    def _lines_to_look_at(
        self, events: list[Event], founds: Sequence[Sequence[int] | None],
    ) -> tuple[list[int], list[set[int] | None]]:
        """The positions of the lines that the prefilter found something in, or whose log
        source some narrowless rules have (in order); and for each such log source, the
        positions of the lines it holds for (None: every line, a rule of any source)."""
        count = len(events)
        passed: list[set[int] | None] = []
        look = {position for position, found in enumerate(founds)
                if found is None or found}
        for test, _ in self._always_tests:
            if test is None:
                passed.append(None)
                look = set(range(count))
            else:  # the test over the batch in one map: no Python loop for each line
                lines = set(compress(range(count), map(test, events)))
                passed.append(lines)
                look |= lines
        return sorted(look), passed

    def _feed(self, target: int, via: int, event: Event, when: float, seq: int,
              engines: list[RuleEngine], alerts: list[Alert]) -> int:
        """Feed `event` to engine `target` (`via`: the position of the rule it matched
        among those a correlation names; -1, a rule's own engine); its alert goes to
        `alerts` and to the correlations of that correlation. Returns `seq`, advanced."""
        engine = engines[target]
        seq += 1
        try:
            if via < 0:
                alert = engine.feed(event, when, seq)
            else:
                alert = cast(CorrelationEngine, engine).feed_via(event, when, seq, via)
        except Exception:  # a bug or odd input must not stop detection
            event_failed(event, "detection", engine.rule.id)
            return seq
        if alert is not None:
            seq = self._raised(target, alert, event, when, seq, engines, alerts)
        return seq

    def _raised(self, target: int, alert: Alert, event: Event, when: float, seq: int,
                engines: list[RuleEngine], alerts: list[Alert]) -> int:
        """Engine `target` raised `alert` on `event` at `when`: keep it unless the rule
        is silent, and feed the correlation rules that name a correlation rule (the event
        that completed it, at its time)."""
        if target not in self.silent:
            alerts.append(alert)
        if target >= self.matching:
            for outer, via in self.feeds[target]:
                seq = self._feed(outer, via, event, when, seq, engines, alerts)
        return seq

    def close_windows(self, engines: list[RuleEngine], now: float, seq: int,
                      ) -> tuple[list[Alert], int]:
        """Decide the windows closed by event time `now` (correlations with an upper
        bound or a metric); their alerts, and `seq` advanced. An alert feeds the
        correlations of its rule as the window's last event at the window's end."""
        alerts: list[Alert] = []
        for target in self.closing:
            engine = cast(ClosingEngine, engines[target])
            try:
                closed = engine.close_windows(now)
            except Exception:  # a bug must not stop detection
                log.exception("closing correlation windows failed", rule=engine.rule.id)
                continue
            for alert, event in closed:
                seq = self._raised(target, alert, event, alert.end, seq, engines, alerts)
        return alerts, seq
