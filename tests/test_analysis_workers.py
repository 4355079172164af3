"""Analysis in worker processes gives what the in-thread analyzer gives, in input order,
and survives a worker that dies."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.loader import close_analyzer, load_analyzer
from logsentry.analysis.workers import ProcessPoolAnalyzer, _split
from logsentry.core.analysis import Analysis

_KINDS = [
    "Failed password for invalid user {user} from 203.0.113.{n} port {port} ssh2",
    "Accepted publickey for {user} from 198.51.100.{n} port {port} ssh2: RSA SHA256:abc",
    "pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={port})",
    '203.0.113.{n} - - [10/Oct/2024:13:55:36 +0000] "GET /wp-login.php?id={port} HTTP/1.1"'
    ' 404 153 "-" "curl/8.5.0"',
    "kernel: [UFW BLOCK] IN=eth0 OUT= SRC=192.0.2.{n} DST=10.0.0.1 PROTO=TCP DPT={port}",
    "Invalid user {user} from 192.0.2.{n} port {port}",
    "Connection closed by authenticating user {user} 203.0.113.{n} port {port} [preauth]",
    "nginx: upstream timed out (110) while reading response header from upstream {n}",
    "",
    "\x1b[31m{user}\x00 \u202e odd bytes \ufffd {port}",
    "x" * 5000 + " {user}",
    "{user} {user} {user} {n} {port}",
]


def _lines(count: int) -> list[str]:
    users = ["admin", "oracle", "test", "ubuntu", "git", "postgres", "pi"]
    return [_KINDS[i % len(_KINDS)].format(user=users[i % len(users)], n=i % 250,
                                           port=40000 + i)
            for i in range(count)]


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolAnalyzer]:
    analyzer = load_analyzer(AnalysisConfig(workers=2, threads=1))
    assert isinstance(analyzer, ProcessPoolAnalyzer)
    yield analyzer
    close_analyzer(analyzer)


def test_two_workers_give_the_in_thread_analyses_in_input_order(
        pool: ProcessPoolAnalyzer) -> None:
    # Worker i always gets slice i of a batch. Two in-thread analyzers fed the same
    # slices hold the same caches and see the same network batches (int8 activation
    # scales are set per batch, so the batch a line is in can move its confidence).
    in_thread = [load_analyzer(AnalysisConfig(workers=1, threads=1)) for _ in range(2)]
    lines = _lines(300)
    for start in range(0, len(lines), 64):  # the pipeline's batches
        batch = lines[start:start + 64]
        expected: list[Analysis] = []
        for index, (begin, end) in enumerate(_split(len(batch), 2)):
            expected += in_thread[index].analyze_batch(batch[begin:end])
        assert pool.analyze_batch(batch) == expected
    assert pool.analyze_batch([]) == []
    assert pool.analyze_batch(lines[:3]) == in_thread[0].analyze_batch(lines[:3])
    assert pool.failed_lines == 0


def test_a_killed_worker_is_restarted_and_its_slice_answered(
        pool: ProcessPoolAnalyzer) -> None:
    lines = _lines(64)
    expected = pool.analyze_batch(lines)
    victim = pool._workers[1].process.pid
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    assert pool.analyze_batch(lines) == expected
    assert pool.restarts == 1 and pool.failed_lines == 0
    assert pool._workers[1].process.pid != victim


def test_a_closed_pool_stops_its_workers_and_answers_without_labels() -> None:
    analyzer = ProcessPoolAnalyzer(AnalysisConfig(threads=1), 2)
    processes = [worker.process for worker in analyzer._workers]
    analyzer.close()
    assert not any(process.is_alive() for process in processes)
    results = analyzer.analyze_batch(["Failed password for root from 203.0.113.1 port 1 ssh2"])
    assert [r.action for r in results] == ["other"]
