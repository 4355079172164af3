"""sd_notify: telling the service manager about start-up, reloads and shutdown.

The protocol is one datagram per notification on the AF_UNIX socket named by
`NOTIFY_SOCKET`: newline-separated `KEY=value` assignments (`READY=1`,
`STATUS=...`). A name starting with `@` is a socket in the abstract namespace.
It needs no libsystemd and no running systemd: any process that binds a
datagram socket and sets `NOTIFY_SOCKET` can supervise logsentry (the tests
do). Without `NOTIFY_SOCKET` every call is a no-op, so the daemon calls the
notifier unconditionally.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping

import structlog

from logsentry.core.metrics import NOTIFY_FAILURES
from logsentry.service.watchdog import Watchdog, watchdog_usec_from_env

log = structlog.get_logger(__name__)

# systemd reads at most this many bytes of a notification; STATUS= texts are
# cut well below it.
_STATUS_MAX_CHARS = 1024


def socket_address(name: str) -> str | None:
    """The address to `sendto()` for a NOTIFY_SOCKET value, None if unsupported.

    `/path` is a filesystem socket, `@name` an abstract one (leading NUL byte).
    `vsock:` addresses (systemd >= 254, for VMs) are not supported.
    """
    if name.startswith("/"):
        return name
    if name.startswith("@") and len(name) > 1:
        return "\0" + name[1:]
    return None


def _clean_value(value: str) -> str:
    # A newline would start a new assignment: a STATUS text built from log
    # content (attacker-controlled) must never be able to send READY=1 or
    # MAINPID=. NULs end the datagram early in C readers.
    cleaned = value.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    return cleaned[:_STATUS_MAX_CHARS]


class NotifySocket:
    """The datagram socket to the service manager named by NOTIFY_SOCKET."""

    def __init__(self, name: str) -> None:
        address = socket_address(name)
        if address is None:
            raise ValueError(f"unsupported NOTIFY_SOCKET address: {name!r}")
        self.name = name
        self._address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # Never block the event loop on a full receive queue of a stalled
        # manager: a lost STATUS= is better than a stuck daemon.
        self._sock.setblocking(False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifySocket | None:
        """The socket named by NOTIFY_SOCKET, or None when not run under a manager."""
        env = os.environ if environ is None else environ
        name = env.get("NOTIFY_SOCKET", "")
        if not name:
            return None
        if socket_address(name) is None:
            log.warning("notify_socket_unsupported", notify_socket=name)
            return None
        return cls(name)

    def send(self, **fields: str | int) -> bool:
        """Send one notification; True if the manager's socket accepted it.

        Failures are logged and counted, never raised: notification is
        advisory and must not take the daemon down.
        """
        lines = [f"{key}={_clean_value(str(value))}" for key, value in fields.items()]
        payload = "\n".join(lines).encode("utf-8", errors="replace")
        try:
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            NOTIFY_FAILURES.inc()
            log.warning("notify_failed", notify_socket=self.name, error=str(exc),
                        fields=sorted(fields))
            return False
        return True

    def close(self) -> None:
        """Release the socket."""
        self._sock.close()


def _monotonic_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class ServiceNotifier:
    """What the daemon tells systemd at each stage of its life.

    Every method is a no-op when the daemon does not run under a service
    manager (`enabled` is False), so callers need no conditionals.
    """

    def __init__(self, sock: NotifySocket | None, watchdog_usec: int | None = None) -> None:
        self._sock = sock
        self.watchdog_usec = watchdog_usec
        self._watchdog_task: asyncio.Task[None] | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceNotifier:
        """A notifier for NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID of this process."""
        env = os.environ if environ is None else environ
        return cls(NotifySocket.from_env(env), watchdog_usec_from_env(env))

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return self._sock is not None

    def notify(self, **fields: str | int) -> bool:
        """Send raw sd_notify assignments, e.g. `notify(READY=1)`."""
        if self._sock is None:
            return False
        return self._sock.send(**fields)

    def ready(self, status: str | None = None) -> bool:
        """Start-up (or a reload) is complete: the model is loaded, sources are open."""
        fields: dict[str, str | int] = {"READY": 1, "MAINPID": os.getpid()}
        if status is not None:
            fields["STATUS"] = status
        return self.notify(**fields)

    def reloading(self, status: str = "reloading configuration") -> bool:
        """A reload began; `ready()` must follow when it ends (even if it failed).

        MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the
        reload to its request; older managers ignore it.
        """
        return self.notify(RELOADING=1, MONOTONIC_USEC=_monotonic_usec(), STATUS=status)

    def stopping(self, status: str = "stopping") -> bool:
        """Shutdown began: systemd stops waiting for READY and for watchdog pings."""
        return self.notify(STOPPING=1, STATUS=status)

    def status(self, text: str) -> bool:
        """Free-form status shown by `systemctl status`."""
        return self.notify(STATUS=text)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for `seconds` more before a start/stop timeout (slow model load, long drain)."""
        return self.notify(EXTEND_TIMEOUT_USEC=int(seconds * 1_000_000))

    def watchdog_ping(self) -> bool:
        """Tell systemd the daemon is alive (normally sent by the watchdog task)."""
        return self.notify(WATCHDOG=1)

    def start_watchdog(
        self, is_healthy: Callable[[], bool] | None = None
    ) -> asyncio.Task[None] | None:
        """Start pinging WATCHDOG=1 from the running event loop, if systemd asked for it.

        Returns the task (already running), or None when no watchdog is
        configured. `is_healthy`, if given, must also hold for a ping to go out.
        Call from within the event loop; `close()` cancels the task.
        """
        if self._sock is None or not self.watchdog_usec:
            return None
        if self._watchdog_task is None or self._watchdog_task.done():
            watchdog = Watchdog(self.watchdog_ping, self.watchdog_usec, is_healthy=is_healthy)
            self._watchdog_task = asyncio.get_running_loop().create_task(
                watchdog.run(), name="systemd-watchdog")
        return self._watchdog_task

    async def close(self) -> None:
        """Stop the watchdog task and release the socket."""
        task, self._watchdog_task = self._watchdog_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
