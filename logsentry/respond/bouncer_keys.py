"""The API keys of the bouncers allowed to read decisions, stored as SHA-256 digests.

`<state_dir>/bouncers.json` maps a bouncer's name to its key's digest; the key
itself is printed once, by `logsentry bouncers add NAME`, and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

import orjson

from logsentry.core.atomicfile import write_atomic
from logsentry.core.errors import ConfigError


class BouncerKeys:
    """Names and key digests, read from and written to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        self._entries: dict[str, dict[str, object]] = {}

    def load(self) -> dict[str, dict[str, object]]:
        """The entries, read again when the file changed (keys added while running)."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._entries, self._mtime = {}, -1.0
            return self._entries
        if mtime != self._mtime:
            self._entries = orjson.loads(self.path.read_bytes())
            self._mtime = mtime
        return self._entries

    def add(self, name: str) -> str:
        """Register a bouncer; return its new key (shown once)."""
        entries = dict(self.load())
        if name in entries:
            raise ConfigError(f"a bouncer named {name!r} exists; delete it first")
        key = secrets.token_urlsafe(32)
        entries[name] = {"sha256": _digest(key), "created": time.time()}
        write_atomic(self.path, orjson.dumps(entries, option=orjson.OPT_INDENT_2))
        return key

    def delete(self, name: str) -> bool:
        entries = dict(self.load())
        if entries.pop(name, None) is None:
            return False
        write_atomic(self.path, orjson.dumps(entries, option=orjson.OPT_INDENT_2))
        return True

    def who(self, key: str) -> str | None:
        """The bouncer whose key this is, or None. Compares every digest in constant time."""
        digest = _digest(key)
        found = None
        for name, entry in self.load().items():
            if hmac.compare_digest(str(entry.get("sha256", "")), digest):
                found = name
        return found


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
