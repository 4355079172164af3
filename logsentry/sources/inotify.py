"""A minimal inotify binding (ctypes), so file tailing wakes on writes, not only on polls."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

# Watching the directory (not the file) reports writes to every file in it and
# the renames and creations that rotation consists of, with one watch.
DIRECTORY_MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
    | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
)

_EVENT_HEADER = struct.Struct("iIII")


class InotifyUnavailable(OSError):
    """The kernel or libc offers no inotify; callers fall back to polling."""


class Inotify:
    """An inotify instance with non-blocking reads, for `loop.add_reader`."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("c")
        try:
            self._libc = ctypes.CDLL(name, use_errno=True)
            fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        except (OSError, AttributeError) as exc:
            raise InotifyUnavailable(str(exc)) from exc
        if fd < 0:
            raise InotifyUnavailable(os.strerror(ctypes.get_errno()))
        self.fd: int = fd
        self._watches: dict[str, int] = {}

    def watch(self, directory: str) -> bool:
        """Watch a directory; False when it cannot be watched (missing, no permission)."""
        if directory in self._watches:
            return True
        wd = self._libc.inotify_add_watch(self.fd, directory.encode(), DIRECTORY_MASK)
        if wd < 0:
            return False
        self._watches[directory] = wd
        return True

    def unwatch_missing(self, directory: str) -> None:
        """Forget a directory that disappeared (its watch died with it)."""
        self._watches.pop(directory, None)

    def read_names(self) -> list[str]:
        """Drain pending events; return the file names they concern (may be empty names)."""
        names: list[str] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return names
            if not data:
                return names
            pos = 0
            while pos + _EVENT_HEADER.size <= len(data):
                _, mask, _, length = _EVENT_HEADER.unpack_from(data, pos)
                pos += _EVENT_HEADER.size
                name = data[pos : pos + length].rstrip(b"\0").decode(errors="replace")
                pos += length
                if mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW):
                    names.append("")
                names.append(name)

    def close(self) -> None:
        os.close(self.fd)
