"""The long-running daemon: builds the pipeline from the configuration and runs it.

Signals: SIGTERM/SIGINT stop reading, drain in-flight lines to the outputs,
persist positions and state, and exit 0. SIGHUP validates the configuration
file again: a bad one is logged and the running pipeline is left alone; a
good one drains the running pipeline (committing its positions, saving
detection state) and starts a new one, so nothing in flight is lost.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from logsentry.analysis.base import Analyzer
from logsentry.analysis.loader import close_analyzer, load_analyzer
from logsentry.assembly import (
    build_detector,
    build_sources,
    check_components,
    check_sources,
    open_outputs,
    resume_sources,
    share_memory_cap,
    source_problems,
)
from logsentry.config import Config, load_config
from logsentry.core.collector import (
    collect_frozen,
    keep_survivors_frozen,
    use_daemon_thresholds,
)
from logsentry.core.errors import ConfigError
from logsentry.pipeline import Pipeline
from logsentry.service.lifecycle import ServiceLifecycle
from logsentry.sinks.factory import sink_name
from logsentry.sources.base import Source

if TYPE_CHECKING:
    from logsentry.detect.detector import Detector

log = structlog.get_logger(__name__)

SWITCH_INTERVAL = 0.02  # seconds; see Daemon.run


class Daemon:
    """One `logsentry run`: load the model once, then run pipelines until stopped."""

    def __init__(
        self,
        config: Config,
        config_path: Path | None = None,
        *,
        sources: Sequence[Source] | None = None,
        lifecycle: ServiceLifecycle | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self._fixed_sources = list(sources) if sources is not None else None
        self.lifecycle = lifecycle or ServiceLifecycle(config.service)
        self._stop = asyncio.Event()
        self._run_stop = asyncio.Event()
        self._next_config: Config | None = None
        self.pipeline: Pipeline | None = None
        self.exit_status = 0
        # Built while validating at start, used by the first pipeline run.
        self._first_detector: Detector | None = None

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or the end of finite input); return the exit status."""
        loop = asyncio.get_running_loop()
        # The analysis thread and the event loop share one interpreter lock.
        # Handing it over every 20 ms instead of 5 ms cuts the switching cost
        # under load (about +7% lines/s measured); a waiting stage releases it
        # at once anyway, so latency at low load does not change.
        sys.setswitchinterval(SWITCH_INTERVAL)
        # Full collections visit only what survived since the last one: their pause no
        # longer grows with the detection state (1.5 to 2.5 s at 1,000,000 groups).
        keep_survivors_frozen()
        use_daemon_thresholds()
        # Everything is validated before anything is opened: a bad rule path
        # must not leave a metrics listener answering for a daemon that is
        # about to exit (ConfigError: the command line exits 2).
        self._first_detector = self._validate(self.config, self._origin())
        self._check_sources()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        try:
            await self.lifecycle.start()
        except OSError as exc:
            # The metrics address is taken or not ours to bind: say so plainly.
            print(f"logsentry: cannot serve /metrics: {exc}", file=sys.stderr)
            return 1
        analyzer: Analyzer | None = None
        try:
            analyzer = await loop.run_in_executor(None, self._load_analyzer, self.config)
            first = True
            while True:
                finished = await self._run_once(analyzer, first)
                first = False
                if finished or self._stop.is_set() or self._next_config is None:
                    break
                new_config, self._next_config = self._next_config, None
                # The last run's pipeline and detector are garbage now, frozen with
                # their reference cycles (see core/collector.py): freed before the
                # next run builds their successors.
                collect_frozen()
                if (new_config.analysis != self.config.analysis
                        or new_config.topology.mode != self.config.topology.mode):
                    old, analyzer = analyzer, None
                    close_analyzer(old)  # its worker processes, before the new ones start
                    analyzer = await loop.run_in_executor(
                        None, self._load_analyzer, new_config)
                self.config = new_config
                log.info("configuration_reloaded", path=str(self.config_path))
        finally:
            close_analyzer(analyzer)
            self.lifecycle.stopping()
            await self.lifecycle.close()
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
        log.info("stopped", exit_status=self.exit_status)
        return self.exit_status

    async def _run_once(self, analyzer: Analyzer | None, first: bool) -> bool:
        """One pipeline from build to drain. True when its input simply ended."""
        config = self.config
        state_dir = config.state_dir
        self._run_stop = asyncio.Event()
        if self._stop.is_set():
            self._run_stop.set()
        if config.topology.mode != "single":
            # Kafka scale-out: stage 1, stage 2 or both; no local pipeline.
            from logsentry.topology.runner import run_stages

            if first:
                self.lifecycle.ready()
            else:
                self.lifecycle.reloaded()
            await run_stages(config, config.topology, self._run_stop, analyzer,
                             self.lifecycle.health)
            return not self._run_stop.is_set()
        assert analyzer is not None  # only Kafka stage 2 runs without one
        detector = self._first_detector if first else build_detector(config)
        self._first_detector = None
        if detector is not None:
            share_memory_cap(detector, analyzer)
        outputs = await open_outputs(config, state_dir, self._output_closed)
        sources = self._fixed_sources if self._fixed_sources is not None else build_sources(
            config, state_dir)
        resume_sources(sources, detector)
        self.pipeline = Pipeline(
            sources,
            analyzer,
            detector=detector,
            event_outputs=outputs.event_outputs,
            alert_output=outputs.alert_output,
            config=config.pipeline,
            analysis=config.analysis,
        )
        running = asyncio.ensure_future(self.pipeline.run(self._run_stop))
        try:
            # READY=1 only once the sources are open: two loop turns let
            # Pipeline.run start the source tasks and each source open its
            # inputs (files opened and positioned, journalctl spawned) before
            # it first waits.
            for _ in range(2):
                await asyncio.sleep(0)
            if first:
                self.lifecycle.ready()
                log.info("started", sources=[s.name for s in sources],
                         sinks=[sink_name(s) for s in config.sinks])
            else:
                self.lifecycle.reloaded()
            await running
            if sources and len(self.pipeline.failed_sources) == len(sources):
                # Nothing left to read: exit non-zero so Restart=on-failure acts.
                self.exit_status = 1
                log.error("all_sources_failed", sources=self.pipeline.failed_sources)
                self._stop.set()
        finally:
            if not running.done():
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
            # The detection state was saved by the pipeline before its sources closed.
            await outputs.close(config.pipeline.drain_timeout)
        return not self._run_stop.is_set()

    def _origin(self) -> str:
        return str(self.config_path) if self.config_path is not None else "built-in default"

    @staticmethod
    def _validate(config: Config, origin: str) -> Detector | None:
        """Check what the schema cannot (raises ConfigError); the first run's detector."""
        if config.topology.mode != "single":
            check_components(config, origin)
            return None
        check_components(config, origin, rules=False)
        return build_detector(config)

    def _check_sources(self) -> None:
        """Warn per file path that matches nothing; refuse when nothing can be read.

        The same warnings stay in `/readyz` while they hold (evaluated per request,
        so a file that appears clears its line).
        """
        if self._fixed_sources is not None or self.config.topology.mode == "detect":
            return
        for problem in check_sources(self.config, self._origin()):
            event = "source_path_waiting" if problem.allowed else "source_path_unmatched"
            (log.info if problem.allowed else log.warning)(
                event, source=problem.source, key=problem.key, path=problem.path,
                problem=problem.why)
        self.lifecycle.health.add_readiness_detail(
            "sources", lambda: [str(p) for p in source_problems(self.config)])

    @staticmethod
    def _load_analyzer(config: Config) -> Analyzer | None:
        """The analyzer, unless this process only correlates (Kafka stage 2)."""
        if config.topology.mode == "detect":
            return None
        return load_analyzer(config.analysis)

    def _output_closed(self, sink: str) -> None:
        """A sink's reader went away (`logsentry demo | head -1`): stop like SIGTERM,
        quietly; what it did not get stays in the spool."""
        if not self._stop.is_set():
            log.info("stopping_output_closed", sink=sink)
            self._stop.set()
            self._run_stop.set()

    def stop(self) -> None:
        """Begin a graceful shutdown (signal handler)."""
        log.info("stopping")
        self._stop.set()
        self._run_stop.set()

    def request_reload(self) -> None:
        """SIGHUP: validate the file again; swap pipelines only if it is good."""
        self.lifecycle.reloading()
        if self.config_path is None:
            self.lifecycle.reloaded(error="no configuration file to reload")
            log.warning("reload_ignored", reason="running on the built-in default")
            return
        try:
            new_config = load_config(self.config_path)
            # Secrets and sink names too: a reload must not swap in sinks
            # that fail at their first alert.
            check_components(new_config, self._origin(), rules=False)
        except ConfigError as exc:
            log.error("reload_rejected", error=str(exc))
            self.lifecycle.reloaded(error="invalid configuration, kept the old one")
            return
        self._next_config = new_config
        self._run_stop.set()
