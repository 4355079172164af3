"""The loaded Sigma rules at work in the detector: which rules an event matches, and
feeding those events to the rules' correlation state.

Selection runs in three steps per event: the prefilter names the rules whose
literals occur in it (a constant cost whatever the number of rules), the log source
of each candidate is tested once per event and source, and the candidates' compiled
conditions decide. The matched events then go to `RuleEngine`s, the very state
native rules keep (grouping, suppression, samples, the memory cap, saving), which the
detector owns along with its native rules' engines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog

from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.core.metrics import LINES_FAILED
from logsentry.detect.rule import Rule
from logsentry.detect.rule_state import RuleEngine
from logsentry.detect.sigma.config import SigmaConfig
from logsentry.detect.sigma.load import LoadedSigma, SkippedRule, load_sigma
from logsentry.detect.sigma.prefilter import Prefilter

log = structlog.get_logger(__name__)


class SigmaRuleSet:
    """Compiled Sigma rules, shared by every detector that runs them (read-only)."""

    def __init__(self, loaded: LoadedSigma) -> None:
        self.loaded = loaded
        specs = loaded.rules
        self.rules: list[Rule] = [spec.rule for spec in specs]
        self.paths: list[str] = [spec.path for spec in specs]
        self.prefilter = Prefilter([spec.need for spec in specs])
        self._predicates = [spec.predicate for spec in specs]
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
        # The engines (indexes into `rules`) a match of each rule feeds.
        self.feeds: list[tuple[int, ...]] = [(index,) for index in range(len(specs))]

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

    def matches(self, event: Event) -> list[int]:
        """Indexes of the rules `event` matches, in rule order."""
        verdicts: dict[int, bool] = {}
        sources = self._sources
        predicates = self._predicates
        hits: list[int] = []
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
        found = self.prefilter.found(event)
        if not found:
            return hits
        unsorted = bool(hits)
        source_of = self._source_of
        for index in found:
            source = source_of[index]
            if source >= 0:
                verdict = verdicts.get(source)
                if verdict is None:
                    verdict = verdicts[source] = sources[source](event)
                if not verdict:
                    continue
            if predicates[index](event):
                hits.append(index)
        if unsorted:
            hits.sort()
        return hits

    def engines(self, max_samples: int) -> list[RuleEngine]:
        """Fresh state for every rule (one detector's)."""
        return [RuleEngine(rule, max_samples) for rule in self.rules]

    def process(
        self, events: list[Event], engines: list[RuleEngine], seq: int, watermark: float,
        alerts: list[Alert], max_future_skew: float,
    ) -> tuple[int, float]:
        """Match a batch and feed the matches to `engines` (this set's, in rule order);
        append alerts. Returns the detector's arrival counter and watermark, advanced."""
        feeds = self.feeds
        for event in events:
            try:
                hits = self.matches(event)
            except Exception:  # a bug or odd input must not stop detection
                LINES_FAILED.labels(stage="detect").inc()
                log.exception("Sigma rule selection failed on an event", source=event.source,
                              line=event.line)
                continue
            if not hits:
                continue
            when = event.event_time
            if event.received and when > event.received + max_future_skew:
                when = event.received
            if when > watermark:
                watermark = when
            for index in hits:
                for target in feeds[index]:
                    engine = engines[target]
                    seq += 1
                    try:
                        alert = engine.feed(event, when, seq)
                    except Exception:  # a bug or odd input must not stop detection
                        LINES_FAILED.labels(stage="detect").inc()
                        log.exception("detection failed on an event", rule=engine.rule.id,
                                      source=event.source, line=event.line)
                        continue
                    if alert is not None:
                        alerts.append(alert)
        return seq, watermark
