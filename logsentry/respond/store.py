"""Decisions kept durably in the state directory.

`<state_dir>/decisions/decisions.jsonl` is an append-only log of `add` and `del`
records, fsync'd before a call returns: decisions survive a crash and expire on
time after a restart (an expired decision is simply not loaded). The log is
rewritten with only what is still active once it is mostly dead.

The daemon and the command line (`logsentry decisions add|delete`) share the
log: writers hold an exclusive `flock` on a lock file beside it, and the daemon
applies what others appended on `refresh()`. Every change also gets a sequence
number in memory, from which the bouncer API tells each bouncer what is new
and what was deleted since it last asked.
"""

from __future__ import annotations

import fcntl
import os
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog

from logsentry.core.atomicfile import write_atomic
from logsentry.respond.decision import Decision

log = structlog.get_logger(__name__)

LOG_NAME = "decisions.jsonl"
LOCK_NAME = ".lock"
# Changes kept for bouncers' streams; one that fell further behind starts over.
MAX_CHANGES = 200_000
# The log is rewritten once it holds this many records and 4 times the active ones.
COMPACT_MIN_RECORDS = 1000
# Offense counts outlive their last decision by this long, then are forgotten.
OFFENSE_MEMORY = 30 * 86400.0


@dataclass(slots=True)
class Offenses:
    """How many decisions an address has had, and when the last one ended."""

    count: int
    last_until: float


@dataclass(slots=True)
class Change:
    seq: int
    kind: str  # "new" or "deleted"
    decision: Decision


class DecisionStore:
    """The active decisions, their durable log and the changes bouncers stream."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOG_NAME
        self._lock_path = folder / LOCK_NAME
        self._active: dict[str, Decision] = {}
        self._by_value: dict[str, set[str]] = {}
        self._offenses: dict[str, Offenses] = {}
        self._changes: deque[Change] = deque(maxlen=MAX_CHANGES)
        self._seq = 0
        self._offset = 0
        self._records = 0  # records in the log, for compaction
        self._inode = -1

    @classmethod
    def open(cls, folder: Path, now: float) -> DecisionStore:
        """Load the log; decisions already expired are dropped."""
        store = cls(folder)
        with store._locked():
            store._read_new(now)
        log.info("decisions_loaded", active=len(store._active), path=str(store.path))
        return store

    # -- reading -------------------------------------------------------------------

    def active(self, now: float) -> list[Decision]:
        return [d for d in self._active.values() if d.active(now)]

    def __len__(self) -> int:
        return len(self._active)

    def get(self, uuid: str) -> Decision | None:
        return self._active.get(uuid)

    def active_on(self, value: str, now: float) -> list[Decision]:
        """The decisions in force on exactly `value`."""
        found = (self._active[u] for u in self._by_value.get(value, ()))
        return [d for d in found if d.active(now)]

    def offenses(self, value: str) -> int:
        known = self._offenses.get(value)
        return known.count if known else 0

    @property
    def seq(self) -> int:
        """The sequence number of the last change."""
        return self._seq

    def changes_since(self, seq: int) -> list[Change] | None:
        """Changes after `seq`, oldest first; None when they are no longer all kept."""
        if seq >= self._seq:
            return []
        if not self._changes or self._changes[0].seq > seq + 1:
            return None
        return [change for change in self._changes if change.seq > seq]

    # -- writing -------------------------------------------------------------------

    def add(self, decisions: Iterable[Decision], now: float) -> list[Decision]:
        """Store the decisions not stored already (by uuid); return those added."""
        with self._locked():
            self._read_new(now)
            fresh = [d for d in decisions if d.uuid not in self._active and d.active(now)]
            self._append([{"op": "add", "d": d.to_dict()} for d in fresh])
            for decision in fresh:
                self._apply_add(decision)
        return fresh

    def delete(self, uuids: Iterable[str], now: float) -> list[Decision]:
        """End the decisions with these uuids now; return those that were active."""
        with self._locked():
            self._read_new(now)
            gone = [self._active[u] for u in dict.fromkeys(uuids) if u in self._active]
            self._append([{"op": "del", "uuid": d.uuid, "at": now} for d in gone])
            for decision in gone:
                self._apply_delete(decision.uuid, now)
        return gone

    def refresh(self, now: float) -> None:
        """Apply what other processes appended, and expire what has run out."""
        with self._locked():
            self._read_new(now)
        self.expire(now)

    def expire(self, now: float) -> list[Decision]:
        """Report the decisions whose time is up as deleted; nothing is written (a restart
        does not load them)."""
        ended = [d for d in self._active.values() if not d.active(now)]
        for decision in ended:
            self._forget(decision)
            self._change("deleted", decision)
        return ended

    def compact_if_worth_it(self, now: float) -> bool:
        """Rewrite the log with only what still matters once it is mostly dead."""
        if self._records < COMPACT_MIN_RECORDS or self._records < 4 * (len(self._active) + 1):
            return False
        with self._locked():
            self._read_new(now)
            self._forget_offenses(now)
            records = [{"op": "offenses", "value": value, "n": o.count, "until": o.last_until}
                       for value, o in self._offenses.items()]
            records += [{"op": "add", "d": d.to_dict()} for d in self._active.values()
                        if d.active(now)]
            data = b"".join(orjson.dumps(r) + b"\n" for r in records)
            write_atomic(self.path, data)
            self._offset = len(data)
            self._records = len(records)
            self._inode = self.path.stat().st_ino
        log.info("decisions_compacted", records=len(records))
        return True

    # -- internals -----------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _append(self, records: list[dict[str, object]]) -> None:
        if not records:
            return
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        self._offset += len(data)
        self._records += len(records)

    def _read_new(self, now: float) -> None:
        """Apply the records appended since the last read (all of them after a rewrite)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        if stat.st_ino != self._inode:  # first read, or rewritten by another process
            self._inode, self._offset, self._records = stat.st_ino, 0, 0
        if stat.st_size <= self._offset:
            return
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a record torn by a crash is completed by no one
        for raw in data[:end].splitlines():
            self._records += 1
            try:
                self._apply(orjson.loads(raw), now)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("decision_record_unreadable", path=str(self.path))
        self._offset += end

    def _apply(self, record: dict[str, object], now: float) -> None:
        op = record["op"]
        if op == "add":
            decision = Decision.from_dict(record["d"])  # type: ignore[arg-type]
            if decision.active(now) and decision.uuid not in self._active:
                self._apply_add(decision)
            else:
                self._note_offense(decision)
        elif op == "del":
            self._apply_delete(str(record["uuid"]), float(record["at"]))  # type: ignore[arg-type]
        elif op == "offenses":
            value, count = str(record["value"]), int(record["n"])  # type: ignore[call-overload]
            until = float(record["until"])  # type: ignore[arg-type]
            known = self._offenses.get(value)
            if known is None or known.count < count:
                self._offenses[value] = Offenses(count, until)

    def _apply_add(self, decision: Decision) -> None:
        self._active[decision.uuid] = decision
        self._by_value.setdefault(decision.value, set()).add(decision.uuid)
        self._note_offense(decision)
        self._change("new", decision)

    def _apply_delete(self, uuid: str, at: float) -> None:
        decision = self._active.get(uuid)
        if decision is not None:
            self._forget(decision)
            decision.until = min(decision.until, at)
            self._change("deleted", decision)

    def _forget(self, decision: Decision) -> None:
        del self._active[decision.uuid]
        same = self._by_value.get(decision.value)
        if same is not None:
            same.discard(decision.uuid)
            if not same:
                del self._by_value[decision.value]

    def _note_offense(self, decision: Decision) -> None:
        known = self._offenses.get(decision.value)
        if known is None:
            self._offenses[decision.value] = Offenses(decision.offense, decision.until)
        else:
            known.count = max(known.count, decision.offense)
            known.last_until = max(known.last_until, decision.until)

    def _forget_offenses(self, now: float) -> None:
        stale = [v for v, o in self._offenses.items() if o.last_until < now - OFFENSE_MEMORY]
        for value in stale:
            del self._offenses[value]

    def _change(self, kind: str, decision: Decision) -> None:
        self._seq += 1
        self._changes.append(Change(self._seq, kind, decision))
