"""Analysis with its network in worker processes gives what the in-thread analyzer gives,
in input order, answers what its caches know without the workers, and survives a worker
that dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from logsentry.analysis import workers
from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.loader import close_analyzer, load_analyzer
from logsentry.analysis.workers import ProcessPoolAnalyzer, _balance

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
    assert analyzer.wait_ready(300)
    yield analyzer
    close_analyzer(analyzer)


def test_two_workers_give_the_in_thread_analyses_in_input_order(
        pool: ProcessPoolAnalyzer) -> None:
    # The caches run in the parent as in the in-thread analyzer, so the same lines reach
    # the network in the same batches.
    pool.clear_cache()
    in_thread = load_analyzer(AnalysisConfig(workers=1, threads=1))
    lines = _lines(300)
    for start in range(0, len(lines), 64):  # the pipeline's batches
        batch = lines[start:start + 64]
        assert pool.analyze_batch(batch) == in_thread.analyze_batch(batch)
    assert pool.analyze_batch([]) == []
    assert pool.cache_stats() == in_thread.cache_stats()  # type: ignore[attr-defined]
    assert pool.failed_lines == 0


def test_lines_the_caches_know_are_answered_without_the_workers(
        pool: ProcessPoolAnalyzer, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _lines(64)
    expected = pool.analyze_batch(lines)
    killed = list(pool._workers)
    for worker in killed:
        worker.process.kill()
        worker.process.join(5)
    assert pool.analyze_batch(lines) == expected
    assert pool.restarts == 0 and pool.failed_lines == 0
    assert pool._workers == killed
    # New lines of many lengths need the network in several batches: the dead workers
    # are started again.
    monkeypatch.setattr(workers, "SPREAD_POSITIONS", 0)
    pool.clear_cache()
    assert pool.analyze_batch(lines) == expected
    assert pool.restarts >= 1 and pool.failed_lines == 0


def test_network_batches_are_spread_over_the_workers_by_cost() -> None:
    assert _balance([10, 40, 30, 20], 2) == [[0, 1], [2, 3]]  # 50 and 50
    assert _balance([5], 2) == [[0], []]


def test_killed_workers_are_restarted_and_their_batches_answered(
        pool: ProcessPoolAnalyzer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "SPREAD_POSITIONS", 0)  # every batch group goes out
    lines = _lines(64)
    pool.clear_cache()
    expected = pool.analyze_batch(lines)
    pool.clear_cache()  # so the same lines reach the network again
    restarts = pool.restarts
    victims = [worker.process.pid for worker in pool._workers]
    for victim in victims:
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
    assert pool.analyze_batch(lines) == expected
    assert pool.restarts > restarts and pool.failed_lines == 0
    assert any(worker.process.pid not in victims for worker in pool._workers)


def test_a_closed_pool_stops_its_workers_and_labels_in_this_process() -> None:
    analyzer = ProcessPoolAnalyzer(AnalysisConfig(threads=1), 2)
    assert analyzer.wait_ready(300)
    processes = [worker.process for worker in analyzer._workers]
    analyzer.close()
    assert not any(process.is_alive() for process in processes)
    lines = _lines(64)
    in_thread = load_analyzer(AnalysisConfig(workers=1, threads=1))
    assert analyzer.analyze_batch(lines) == in_thread.analyze_batch(lines)
    assert analyzer.failed_lines == 0


def test_lines_are_labelled_while_the_workers_start() -> None:
    analyzer = ProcessPoolAnalyzer(AnalysisConfig(threads=1), 2)
    try:
        lines = _lines(64)
        in_thread = load_analyzer(AnalysisConfig(workers=1, threads=1))
        assert analyzer.analyze_batch(lines) == in_thread.analyze_batch(lines)
        assert analyzer.wait_ready(300) and analyzer.workers == 2
    finally:
        analyzer.close()


def test_a_single_network_batch_runs_in_this_process() -> None:
    analyzer = ProcessPoolAnalyzer(AnalysisConfig(threads=1), 2)
    try:
        assert analyzer.wait_ready(300)
        for worker in analyzer._workers:
            worker.process.kill()
            worker.process.join(5)
        line = "Failed password for invalid user zq from 192.0.2.9 port 2 ssh2"
        in_thread = load_analyzer(AnalysisConfig(workers=1, threads=1))
        assert analyzer.analyze_batch([line]) == in_thread.analyze_batch([line])
        assert analyzer.restarts == 0 and analyzer.failed_lines == 0
    finally:
        analyzer.close()


def test_closing_a_pool_that_is_still_starting_does_not_wait_for_it() -> None:
    analyzer = ProcessPoolAnalyzer(AnalysisConfig(threads=1), 2)
    began = time.monotonic()
    analyzer.close()
    assert time.monotonic() - began < 10
    assert analyzer.workers == 0 and not analyzer.wait_ready(0)
