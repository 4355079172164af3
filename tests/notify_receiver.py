"""A real sd_notify endpoint for tests: the datagram socket systemd would own."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path


class NotifyReceiver:
    """Binds an AF_UNIX datagram socket and records every notification with its arrival time.

    `abstract=True` binds in the abstract namespace (NOTIFY_SOCKET=@name), as
    systemd does for some services. A thread receives, so notifications keep
    arriving (and are timestamped) while the test's event loop is blocked.
    """

    def __init__(self, directory: Path, *, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"logsentry-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            path = directory / "notify.sock"
            self.sock.bind(str(path))
            self.address = str(path)
        self.sock.settimeout(0.05)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def all(self) -> list[tuple[float, dict[str, str]]]:
        with self._lock:
            return list(self.messages)

    def with_key(self, key: str) -> list[tuple[float, dict[str, str]]]:
        return [(t, m) for t, m in self.all() if key in m]

    def wait_for(self, key: str, value: str | None = None, timeout: float = 10.0,
                 count: int = 1) -> list[dict[str, str]]:
        """Block until `count` notifications set `key` (to `value`); return them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for _, m in self.all() if key in m and (value is None or m[key] == value)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {key}={value} notification within {timeout}s: "
                                     f"{[m for _, m in self.all()]}")
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
