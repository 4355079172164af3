"""Prometheus metrics of every stage, in one registry.

Stages import the metric they update from here, so `/metrics` shows the whole
pipeline and there is one name per quantity. The HTTP endpoint lives in
`logsentry.service.http`.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

LINES_READ = Counter(
    "logsentry_lines_read", "Lines read from a source", ["source"], registry=REGISTRY)
LINES_MALFORMED = Counter(
    "logsentry_lines_malformed",
    "Lines read with a defect that was repaired (invalid UTF-8, NUL bytes, cut at the size cap)",
    ["source", "reason"], registry=REGISTRY)
LINES_ANALYZED = Counter(
    "logsentry_lines_analyzed", "Lines labelled by the analyzer", ["source"],
    registry=REGISTRY)
LINES_FAILED = Counter(
    "logsentry_lines_failed", "Lines that could not be processed by a stage (counted, logged)",
    ["stage"], registry=REGISTRY)
QUEUE_DEPTH = Gauge(
    "logsentry_queue_depth", "Batches waiting in an inter-stage queue", ["queue"],
    registry=REGISTRY)
BATCH_SIZE = Histogram(
    "logsentry_analysis_batch_size", "Lines per analyzer batch",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=REGISTRY)
MODEL_LATENCY = Histogram(
    "logsentry_analysis_batch_seconds", "Time the analyzer took per batch",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY)
CACHE_LOOKUPS = Counter(
    "logsentry_analysis_cache_lookups", "Analyzer cache lookups", ["result"], registry=REGISTRY)
TEMPLATE_CACHE_LOOKUPS = Counter(
    "logsentry_analysis_template_cache_lookups",
    "Lines the exact and structure caches missed, by whether a template answered them",
    ["result"], registry=REGISTRY)
MODEL_LINES = Counter(
    "logsentry_analysis_model_lines", "Lines that ran through the model's network",
    registry=REGISTRY)
ALERTS = Counter(
    "logsentry_alerts", "Alerts raised", ["rule", "severity"], registry=REGISTRY)
DETECTION_EVICTIONS = Counter(
    "logsentry_detection_evictions", "Correlation groups evicted by the memory cap",
    registry=REGISTRY)
SINK_DELIVERIES = Counter(
    "logsentry_sink_deliveries", "Records delivered by a sink", ["sink"], registry=REGISTRY)
SINK_FAILURES = Counter(
    "logsentry_sink_failures", "Failed delivery attempts", ["sink", "kind"], registry=REGISTRY)
SINK_RETRIES = Counter(
    "logsentry_sink_retries", "Delivery retries", ["sink"], registry=REGISTRY)
SINK_DEAD_LETTERS = Counter(
    "logsentry_sink_dead_letters", "Records a sink rejected permanently", ["sink"],
    registry=REGISTRY)
SPOOL_BYTES = Gauge(
    "logsentry_spool_bytes", "Bytes in the durable alert spool", registry=REGISTRY)
SPOOL_PENDING = Gauge(
    "logsentry_spool_pending", "Alerts in the spool not yet delivered by a sink", ["sink"],
    registry=REGISTRY)
CONSUMER_LAG = Gauge(
    "logsentry_kafka_consumer_lag", "Kafka consumer lag in messages",
    ["topic", "partition"], registry=REGISTRY)
# Service integration (logsentry.service).
NOTIFY_FAILURES = Counter(
    "logsentry_sd_notify_failures", "sd_notify datagrams the service manager did not accept",
    registry=REGISTRY)
EVENT_LOOP_LAG = Gauge(
    "logsentry_event_loop_lag_seconds",
    "How late the watchdog task last woke up: time the event loop spent blocked",
    registry=REGISTRY)
SOURCE_RESTARTS = Counter(
    "logsentry_source_restarts", "Times a source's reader (journalctl) was restarted",
    ["source"], registry=REGISTRY)
# Active response (logsentry.respond).
DECISIONS = Counter(
    "logsentry_decisions", "Decisions taken", ["type", "origin"], registry=REGISTRY)
DECISIONS_REFUSED = Counter(
    "logsentry_decisions_refused",
    "Alerts selected for response that yielded no decision, by reason", ["reason"],
    registry=REGISTRY)
DECISIONS_ACTIVE = Gauge(
    "logsentry_decisions_active", "Decisions in force", registry=REGISTRY)
DECISIONS_ENDED = Counter(
    "logsentry_decisions_ended", "Decisions that expired or were deleted", registry=REGISTRY)
NFT_FAILURES = Counter(
    "logsentry_nftables_failures", "nft commands that failed", registry=REGISTRY)
# Detection state checkpoints (logsentry.detect.detector).
STATE_SAVE_SECONDS = Histogram(
    "logsentry_detection_state_save_seconds",
    "Time to write one checkpoint of the detection state (serialized in a background thread)",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=REGISTRY)
STATE_SAVE_PAUSE = Histogram(
    "logsentry_detection_state_pause_seconds",
    "Time the detection thread spent taking a checkpoint of its state (detection waits)",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25), registry=REGISTRY)
STATE_SAVE_FAILURES = Counter(
    "logsentry_detection_state_save_failures_total",
    "Checkpoints of the detection state that could not be written (the next one retries)",
    registry=REGISTRY)
# Memory: the detection state's own estimate (what `detection.memory_cap_mb` limits) beside
# the process's resident set, so a gap between the two shows on the same page.
DETECTION_STATE_BYTES = Gauge(
    "logsentry_detection_state_bytes",
    "Estimated bytes of the correlation state (limited by detection.memory_cap_mb)",
    registry=REGISTRY)
DETECTION_STATE_CAP_BYTES = Gauge(
    "logsentry_detection_state_cap_bytes", "The correlation state's memory cap in bytes",
    registry=REGISTRY)
DETECTION_STATE_LIMIT_BYTES = Gauge(
    "logsentry_detection_state_limit_bytes",
    "What the correlation state may hold now: the cap less the analyzer's caches and less "
    "what the process's resident growth leaves it", registry=REGISTRY)
PROCESS_RESIDENT_GROWTH_BYTES = Gauge(
    "logsentry_process_resident_growth_bytes",
    "Resident set growth since detection began (less the state it restored), held under "
    "detection.memory_cap_mb", registry=REGISTRY)
ANALYSIS_CACHE_BYTES = Gauge(
    "logsentry_analysis_cache_bytes",
    "Estimated bytes of the analyzer's caches (counted against detection.memory_cap_mb)",
    registry=REGISTRY)


def resident_bytes() -> float:
    """The process's resident set size (Linux /proc); NaN where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return float(int(handle.read().split()[1]) * _PAGE_SIZE)
    except (OSError, ValueError, IndexError):
        return float("nan")


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PROCESS_RESIDENT_BYTES = Gauge(
    "logsentry_process_resident_bytes", "Resident set size of the logsentry process",
    registry=REGISTRY)
PROCESS_RESIDENT_BYTES.set_function(resident_bytes)
