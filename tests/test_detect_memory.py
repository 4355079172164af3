"""The detection state's memory estimate against what its groups really allocate."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime

import pytest

from logsentry.core.event import Event
from logsentry.core.metrics import REGISTRY
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC).timestamp()


def _failed_logins(first: int, count: int) -> list[Event]:
    """Failed SSH logins, each from a new address (a flood of distinct sources)."""
    events = []
    for n in range(first, first + count):
        ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        at = T0 + n / 5000
        events.append(Event(
            message=f"Failed password for root from {ip} port 4711 ssh2", source="auth.log",
            line=n, received=at, timestamp=datetime.fromtimestamp(at, UTC),
            action="ssh_login_failed", template="Failed password for <*> from <*> port <*> ssh2",
            confidence=0.99, fields={"source.ip": ip, "user.name": "root", "host.name": "web-1"}))
    return events


def test_state_estimate_covers_what_a_flood_of_sources_allocates() -> None:
    # The shipped pack with no cap reached: every source opens a group in each rule
    # that selects failed logins. Events are made and dropped batch by batch, as the
    # pipeline does, so what stays allocated is what the state keeps of them.
    detector = Detector.from_config(DetectionConfig(), None)
    detector.process(_failed_logins(1_000_000, 500))  # rules' caches warm, first shapes compiled
    gc.collect()
    estimate_before = detector.memory_bytes
    tracemalloc.start()
    try:
        for first in range(0, 20_000, 500):
            detector.process(_failed_logins(first, 500))
        gc.collect()
        traced, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = detector.memory_bytes - estimate_before
    assert detector.group_count > 20_000
    # Never below what is really allocated (the cap must hold), and not so far above
    # that the cap evicts groups it had room for: within [1x, 2x] of the traced bytes.
    assert traced <= estimate <= 2 * traced, (traced, estimate)


def test_memory_counted_against_the_cap_outside_the_state_leaves_it_less() -> None:
    # The analyzer's caches grow with distinct lines as the state grows with distinct
    # sources: the daemon counts them against the same cap (assembly.share_memory_cap).
    cap = 4 << 20
    outside = 1 << 20
    detector = Detector(Detector.from_config(DetectionConfig(), None).rules,
                        memory_cap_bytes=cap)
    detector.outside_bytes = lambda: outside
    for first in range(0, 20_000, 500):
        detector.process(_failed_logins(first, 500))
        assert detector.memory_bytes <= cap - outside
    assert detector.evictions > 0
    assert detector.state_cap_bytes == cap - outside
    # Never under half the cap, whatever is counted outside.
    detector.outside_bytes = lambda: 10 * cap
    assert detector.state_cap_bytes == cap // 2


def test_metrics_show_resident_memory_beside_the_state_estimate() -> None:
    resident = REGISTRY.get_sample_value("logsentry_process_resident_bytes")
    assert resident is not None and resident > 10 * 2**20
    assert REGISTRY.get_sample_value("logsentry_detection_state_bytes") is not None


def test_the_daemon_counts_the_analyzers_caches_against_the_detection_cap() -> None:
    from logsentry.analysis.tagger import load_analyzer
    from logsentry.assembly import share_memory_cap

    detector = Detector.from_config(DetectionConfig(), None)
    analyzer = load_analyzer(threads=1, cache_size=1000)
    share_memory_cap(detector, analyzer)
    analyzer.analyze_batch([f"Failed password for u{n} from 10.0.0.{n} port 22 ssh2"
                            for n in range(50)])
    assert analyzer.cache_bytes > 0
    assert detector.outside_bytes is not None
    assert detector.outside_bytes() == analyzer.cache_bytes
    assert detector.state_cap_bytes == detector.memory_cap_bytes - analyzer.cache_bytes
    assert REGISTRY.get_sample_value("logsentry_analysis_cache_bytes") == analyzer.cache_bytes


class _HighWaterHeap:
    """A resident set as an allocator keeps it: it grows with what the state holds and
    more (overhead the state's estimate never sees), and does not shrink when the state
    frees groups."""

    def __init__(self, detector: Detector, base: int, overhead: float) -> None:
        self.detector, self.base, self.overhead = detector, base, overhead
        self.high = 0.0

    def __call__(self) -> float:
        self.high = max(self.high, self.detector.memory_bytes * (1 + self.overhead))
        return self.base + self.high


def test_resident_growth_beside_the_state_lowers_what_the_state_may_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import logsentry.detect.detector as detector_module
    from logsentry.detect.resident import ResidentCeiling

    monkeypatch.setattr(detector_module, "RESIDENT_EVERY", 0.0)  # every batch reads it

    cap = 8 << 20
    detector = Detector(Detector.from_config(DetectionConfig(), None).rules,
                        memory_cap_bytes=cap)
    heap = _HighWaterHeap(detector, base=100 << 20, overhead=0.25)
    detector.resident = ResidentCeiling(heap, cap)
    for first in range(0, 40_000, 50):
        detector.process(_failed_logins(first, 50))
    resident = detector.resident
    assert detector.evictions > 0 and resident.lowered > 0
    # The state alone would have filled the cap and the process grown a quarter past
    # it; held under what the resident growth leaves it, the process stays under the cap.
    assert heap.high <= cap, (heap.high, cap)
    assert detector.state_cap_bytes < cap * 0.9
    # A growth that only stays high lowers nothing more (that would evict everything).
    limit, lowered = detector.state_cap_bytes, resident.lowered
    resident.update(detector.memory_bytes, detector.memory_bytes)
    assert (detector.state_cap_bytes, resident.lowered) == (limit, lowered)


def test_the_daemon_shows_the_resident_growth_against_the_cap_in_metrics() -> None:
    from logsentry.analysis.tagger import load_analyzer
    from logsentry.assembly import share_memory_cap

    detector = Detector.from_config(DetectionConfig(), None)
    share_memory_cap(detector, load_analyzer(threads=1, cache_size=1000))
    detector.process(_failed_logins(0, 50))
    assert detector.resident is not None and detector.resident.baseline is not None
    assert REGISTRY.get_sample_value("logsentry_process_resident_growth_bytes") == (
        detector.resident.growth)
    assert REGISTRY.get_sample_value("logsentry_detection_state_limit_bytes") == (
        detector.state_cap_bytes)
