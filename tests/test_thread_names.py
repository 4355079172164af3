"""The daemon's worker threads carry kernel names (top -H, /proc/PID/task/*/comm)."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from logsentry.analysis.noop import NoopAnalyzer
from logsentry.core.thread_names import name_this_thread
from logsentry.pipeline import Pipeline

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl names")


def _comm(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


@linux_only
def test_a_thread_named_for_the_kernel_shows_that_name_cut_to_15_bytes() -> None:
    seen: list[str] = []

    def work() -> None:
        name_this_thread("logsentry-a-very-long-name")
        seen.append(_comm(threading.get_native_id()))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == ["logsentry-a-ver"]


@linux_only
def test_the_pipelines_analysis_and_detection_threads_are_named() -> None:
    pipeline = Pipeline([], NoopAnalyzer())

    async def names() -> list[str]:
        loop = asyncio.get_running_loop()
        found = []
        for executor in (pipeline._analysis_thread, pipeline._detect_thread):
            tid = await loop.run_in_executor(executor, threading.get_native_id)
            found.append(_comm(tid))
        return found

    try:
        assert asyncio.run(names()) == ["ls-analysis", "ls-detect"]
    finally:
        pipeline._analysis_thread.shutdown()
        pipeline._detect_thread.shutdown()
