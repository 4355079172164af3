"""Tailing log files: globs, rotation (rename+create and copytruncate), restarts.

Each file is read through its own descriptor, so after a rename the old file
is read to its end before the new one takes over, and lines written to the
old file during a short grace period are still picked up. Positions are
committed by the pipeline once lines are fully processed and persisted per
(device, inode) with a fingerprint of the first bytes (see `offsets`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import glob
import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog

from logsentry.core.metrics import LINES_READ
from logsentry.sources.base import LineBatch, LineDecoder
from logsentry.sources.compression import compression_of, compression_of_fd
from logsentry.sources.config import FileSourceConfig
from logsentry.sources.inotify import Inotify, InotifyUnavailable
from logsentry.sources.offsets import (
    FINGERPRINT_BYTES,
    FileOffset,
    OffsetStore,
    fingerprint,
    fingerprint_matches,
)
from logsentry.sources.splitter import LineSplitter

log = structlog.get_logger(__name__)

CHUNK_BYTES = 64 * 1024
# How long a rotated or deleted file is still read after its last write: the
# writer may log a few more lines before it reopens its log.
ROTATE_GRACE_SECONDS = 2.0


def expand_pattern(pattern: str) -> list[str]:
    """The regular files a configured path or glob matches now."""
    if glob.has_magic(pattern):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    return [pattern] if os.path.isfile(pattern) else []


def path_problems(config: FileSourceConfig) -> list[tuple[str, str]]:
    """(path, why) for each configured path or glob that yields nothing now.

    A typo, or a log this host does not write, would otherwise leave the
    source watching nothing without a word.
    """
    problems = []
    for pattern in config.paths:
        matched = expand_pattern(pattern)
        if not matched:
            problems.append((pattern, "matches no file"))
        elif not any(os.access(path, os.R_OK) for path in matched):
            problems.append((pattern, "permission denied" if len(matched) == 1
                             else f"none of its {len(matched)} files is readable"))
        else:
            kinds = {compression_of(path) for path in matched}
            if None not in kinds:
                problems.append((pattern, f"compressed ({', '.join(sorted(kinds))}): "  # type: ignore[arg-type]
                                 "only `logsentry analyze` reads compressed files"))
    return problems


@dataclass(slots=True)
class Tailer:
    """Reading state of one open file."""

    path: str
    fd: int
    dev: int
    ino: int
    splitter: LineSplitter
    line_no: int = 0  # lines read so far, when reading started at 0
    retired_at: float | None = None  # moved away or deleted: read, then close
    last_data: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> str:
        return f"{self.dev}:{self.ino}"

    @property
    def offset(self) -> int:
        """Position just after the last line handed on."""
        return self.splitter.offset


class FileSource:
    """Follows the files matched by a list of paths and globs."""

    def __init__(
        self,
        config: FileSourceConfig,
        state_dir: Path | None,
        *,
        follow: bool | None = None,
        commit_interval: float = 1.0,
    ) -> None:
        self.config = config
        self.name = config.name or "file:" + ",".join(config.paths)
        self.follow = config.follow if follow is None else follow
        self.commit_interval = commit_interval
        slug = hashlib.sha256(self.name.encode()).hexdigest()[:12]
        self.store: OffsetStore | None = (
            OffsetStore(state_dir / f"offsets-file-{slug}.json") if state_dir else None
        )
        self.decoder = LineDecoder(self.name)
        self._tailers: dict[str, Tailer] = {}
        self._by_path: dict[str, str] = {}  # path -> key of the file now at that path
        self._retiring: dict[str, int] = {}  # key -> final offset, dropped once committed
        self._wake = asyncio.Event()
        self._inotify: Inotify | None = None
        self._last_save = 0.0
        self.lines_read = 0
        # Keys of compressed files seen (and warned about once): never followed.
        self._compressed: set[str] = set()
        # Offsets to start from instead of the offsets file (`resume_from`).
        self._resume: dict[str, FileOffset] | None = None
        # The offsets file is written with checkpoints only (`hold_positions`).
        self._held = False

    # -- the public interface ------------------------------------------------

    async def run(self, out: asyncio.Queue[LineBatch], stop: asyncio.Event) -> None:
        """Read and follow the files until `stop` is set (or all are read, without follow)."""
        first_start = self._restore()
        self._scan(start_at_end=first_start and self.config.start_at == "end")
        self._start_inotify()
        try:
            while not stop.is_set():
                produced = await self._read_all(out, stop)
                if not self.follow and not produced:
                    await self._flush_partial_lines(out)
                    return
                self._check_rotation()
                self._scan(start_at_end=False)
                self._save_if_due()
                if produced:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait(stop), self.config.poll_interval)
        finally:
            self._stop_inotify()

    def commit(self, position: Any) -> None:
        key, offset = position
        if self.store is not None:
            self.store.advance(key, offset)
        final = self._retiring.get(key)
        if final is not None and offset >= final:
            del self._retiring[key]
            if self.store is not None:
                self.store.remove(key)

    def checkpoint_position(self) -> Any:
        """Every file's committed offset (with what identifies the file), as JSON data."""
        if self.store is None:
            return None
        return {"files": {key: asdict(entry) for key, entry in self.store.entries.items()}}

    def resume_from(self, position: Any) -> bool:
        """Read from `position` (a `checkpoint_position()`) instead of the offsets file."""
        if self.store is None:
            return False
        try:
            files = position["files"]
            self._resume = {str(key): FileOffset(**value) for key, value in files.items()}
        except (KeyError, TypeError, AttributeError) as exc:
            log.error("checkpoint_position_unusable", source=self.name, error=str(exc))
            return False
        return True

    def describe_position(self, position: Any) -> Any:
        try:
            return {entry["path"]: entry["offset"] for entry in position["files"].values()}
        except (KeyError, TypeError, AttributeError):
            return position

    def hold_positions(self) -> None:
        self._held = True

    def persist_position(self, position: Any) -> None:
        if self.store is not None:
            self.store.write(position["files"])

    async def close(self) -> None:
        for tailer in list(self._tailers.values()):
            os.close(tailer.fd)
        self._tailers.clear()
        if self.store is not None and not self._held:
            self.store.save()

    # -- reading -------------------------------------------------------------

    async def _wait(self, stop: asyncio.Event) -> None:
        stop_wait = asyncio.ensure_future(stop.wait())
        wake_wait = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({stop_wait, wake_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_wait.cancel()
            wake_wait.cancel()

    async def _read_all(self, out: asyncio.Queue[LineBatch], stop: asyncio.Event) -> bool:
        produced = False
        for tailer in list(self._tailers.values()):
            self._check_truncation(tailer)
            while not stop.is_set():
                batch = self._read_chunk(tailer)
                if batch is None:
                    break
                produced = True
                await out.put(batch)
        return produced

    def _read_chunk(self, tailer: Tailer) -> LineBatch | None:
        """Turn the next chunk(s) of the file into a batch; None at end of file."""
        splitter = tailer.splitter
        while True:
            data = os.pread(tailer.fd, CHUNK_BYTES, splitter.read_position)
            if not data:
                return None
            tailer.last_data = time.monotonic()
            first_line = tailer.line_no + 1 if tailer.line_no or splitter.offset == 0 else 0
            lines, offsets = splitter.feed(data)
            if lines:
                return self._batch(tailer, lines, offsets, first_line)

    def _batch(
        self, tailer: Tailer, lines: list[str], offsets: list[int], first_line: int
    ) -> LineBatch:
        tailer.line_no += len(lines)
        self.lines_read += len(lines)
        LINES_READ.labels(self.name).inc(len(lines))
        return LineBatch(
            source=self,
            lines=lines,
            position=(tailer.key, tailer.offset),
            received=time.time(),
            first_line=first_line,
            offsets=offsets,
        )

    async def _flush_partial_lines(self, out: asyncio.Queue[LineBatch]) -> None:
        """Without follow, a last line lacking its newline is still a line."""
        for tailer in self._tailers.values():
            lines, offsets = tailer.splitter.finish()
            if lines:
                await out.put(self._batch(tailer, lines, offsets, tailer.line_no + 1))

    # -- files appearing, rotating, disappearing -------------------------------

    def _restore(self) -> bool:
        """Reopen the files of the stored offsets; True on a first start (no state)."""
        if self.store is None:
            return True
        if self._resume is not None:
            first_start = False
            self.store.replace(self._resume)
            self._resume = None
        else:
            first_start = not self.store.path.exists()
            self.store.load()
        for entry in list(self.store.entries.values()):
            path = self._find(entry)
            if path is None:
                log.warning("file_vanished", source=self.name, path=entry.path,
                            offset=entry.offset)
                self.store.remove(entry.key)
                continue
            tailer = self._open(path, entry.offset)
            if tailer is None:
                continue
            if path != entry.path or not self._matches_config(path):
                # Rotated while we were stopped: finish it, then let it go.
                tailer.retired_at = time.monotonic()
                log.info("resuming_rotated_file", source=self.name, path=path,
                         was=entry.path, offset=entry.offset)
            else:
                self._by_path[path] = tailer.key
        return first_start

    def _find(self, entry: FileOffset) -> str | None:
        """The path where the file of `entry` now is: its old one, or a rotated sibling."""
        directory, base = os.path.split(entry.path)
        candidates = [entry.path]
        with contextlib.suppress(OSError):
            candidates += sorted(
                os.path.join(directory, name) for name in os.listdir(directory or ".")
                if name.startswith(base) and name != base
            )
        for path in candidates:
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) != (entry.dev, entry.ino):
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                if fingerprint_matches(fd, entry):
                    return path
            finally:
                os.close(fd)
        return None

    def _matches_config(self, path: str) -> bool:
        return path in self._expand()

    def _expand(self) -> set[str]:
        paths: set[str] = set()
        for pattern in self.config.paths:
            paths.update(expand_pattern(pattern))
        return paths

    def _scan(self, *, start_at_end: bool) -> None:
        """Open files that match the configuration and are not yet followed."""
        for path in sorted(self._expand()):
            if path in self._by_path:
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = f"{st.st_dev}:{st.st_ino}"
            if key in self._tailers or key in self._compressed:
                continue  # already followed under another name, or compressed
            tailer = self._open(path, st.st_size if start_at_end else 0)
            if tailer is None:
                continue
            self._by_path[path] = tailer.key
            self._remember(tailer)
            log.info("following_file", source=self.name, path=path, offset=tailer.offset)

    def _open(self, path: str, offset: int) -> Tailer | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("file_unreadable", source=self.name, path=path, error=str(exc))
            return None
        st = os.fstat(fd)
        kind = compression_of_fd(fd)
        if kind is not None:
            # Read as text it would yield garbage "lines"; it does not grow either.
            os.close(fd)
            key = f"{st.st_dev}:{st.st_ino}"
            if key not in self._compressed:
                self._compressed.add(key)
                log.warning("file_compressed_skipped", source=self.name, path=path,
                            compression=kind, hint="logsentry analyze reads it")
            return None
        if offset > st.st_size:
            log.warning("file_truncated_while_stopped", source=self.name, path=path,
                        offset=offset, size=st.st_size)
            offset = 0
        splitter = LineSplitter(self.decoder, self.config.max_line_bytes, offset)
        tailer = Tailer(path=path, fd=fd, dev=st.st_dev, ino=st.st_ino, splitter=splitter)
        self._tailers[tailer.key] = tailer
        self._watch(path)
        return tailer

    def _remember(self, tailer: Tailer) -> None:
        if self.store is None:
            return
        digest, length = fingerprint(tailer.fd, FINGERPRINT_BYTES)
        self.store.set(FileOffset(tailer.path, tailer.dev, tailer.ino, tailer.offset, digest,
                                  length))

    def _refresh_fingerprint(self, tailer: Tailer) -> None:
        """A file shorter than the fingerprint length when first seen has grown since."""
        if self.store is None:
            return
        entry = self.store.entries.get(tailer.key)
        if entry is not None and entry.fingerprint_len < FINGERPRINT_BYTES:
            digest, length = fingerprint(tailer.fd, FINGERPRINT_BYTES)
            if length > entry.fingerprint_len:
                entry.fingerprint, entry.fingerprint_len = digest, length

    def _check_truncation(self, tailer: Tailer) -> None:
        size = os.fstat(tailer.fd).st_size
        entry = self.store.entries.get(tailer.key) if self.store is not None else None
        # A file truncated and rewritten past our offset between two looks is
        # still caught: its first bytes changed.
        rewritten = entry is not None and tailer.offset > 0 and not fingerprint_matches(
            tailer.fd, entry)
        if size < tailer.offset or rewritten:
            # copytruncate: the same file starts again from zero. Lines written
            # after our last read but before the truncation are in the copy:
            # read them from there first.
            log.info("file_truncated", source=self.name, path=tailer.path,
                     offset=tailer.offset, size=size)
            self._resume_from_copy(tailer)
            tailer.splitter.reset(0)
            tailer.line_no = 0
            self._remember(tailer)
        else:
            self._refresh_fingerprint(tailer)

    def _resume_from_copy(self, tailer: Tailer) -> None:
        """Find the copy copytruncate made (same first bytes) and finish reading it."""
        if self.store is None:
            return
        entry = self.store.entries.get(tailer.key)
        if entry is None or entry.fingerprint_len == 0:
            return
        directory, base = os.path.split(tailer.path)
        try:
            names = sorted(os.listdir(directory or "."))
        except OSError:
            return
        for name in names:
            if not name.startswith(base) or name == base:
                continue
            path = os.path.join(directory, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
                found = (st.st_size >= tailer.offset and f"{st.st_dev}:{st.st_ino}" not in
                         self._tailers and fingerprint_matches(fd, entry))
            finally:
                os.close(fd)
            if not found:
                continue
            copy = self._open(path, tailer.offset)
            if copy is not None:
                copy.retired_at = time.monotonic()
                self._remember(copy)
                log.info("reading_truncated_copy", source=self.name, path=path,
                         offset=tailer.offset)
            return

    def _check_rotation(self) -> None:
        now = time.monotonic()
        for path, key in list(self._by_path.items()):
            tailer = self._tailers[key]
            try:
                st = os.stat(path)
                moved = (st.st_dev, st.st_ino) != (tailer.dev, tailer.ino)
            except FileNotFoundError:
                moved = True
            if moved:
                log.info("file_rotated", source=self.name, path=path)
                tailer.retired_at = now
                del self._by_path[path]
        for key, tailer in list(self._tailers.items()):
            if tailer.retired_at is None:
                continue
            idle = now - max(tailer.retired_at, tailer.last_data)
            if idle >= ROTATE_GRACE_SECONDS or not self.follow:
                os.close(tailer.fd)
                del self._tailers[key]
                self._retiring[key] = tailer.offset
                self.commit(self._committed_position(key))

    def _committed_position(self, key: str) -> tuple[str, int]:
        entry = self.store.entries.get(key) if self.store is not None else None
        return (key, entry.offset if entry is not None else 0)

    def _save_if_due(self) -> None:
        now = time.monotonic()
        if (self.store is not None and not self._held
                and now - self._last_save >= self.commit_interval):
            self.store.save()
            self._last_save = now

    # -- inotify ---------------------------------------------------------------

    def _start_inotify(self) -> None:
        if not self.follow:
            return
        try:
            self._inotify = Inotify()
        except InotifyUnavailable as exc:
            log.warning("inotify_unavailable_polling", source=self.name, error=str(exc))
            return
        asyncio.get_running_loop().add_reader(self._inotify.fd, self._on_inotify)
        for pattern in self.config.paths:
            self._watch(pattern)

    def _watch(self, path: str) -> None:
        if self._inotify is not None:
            self._inotify.watch(os.path.dirname(os.path.abspath(path)) or "/")

    def _on_inotify(self) -> None:
        if self._inotify is None:
            return
        # The watch is on whole folders: wake for this source's files, not for every
        # other program writing beside them (the poll interval stays the safety net).
        if any(self._concerns(name) for name in self._inotify.read_names()):
            self._wake.set()

    def _concerns(self, name: str) -> bool:
        """Whether an inotify event on `name` may be about a file this source reads: a
        name its patterns match, or one that starts with a read file's name (`auth.log.1`,
        `auth.log-20261207`: a rotated file still read to its end). An empty name is the
        folder itself, or events the kernel dropped."""
        if not name:
            return True
        if any(fnmatch.fnmatchcase(name, os.path.basename(p)) for p in self.config.paths):
            return True
        return any(name.startswith(os.path.basename(t.path)) for t in self._tailers.values())

    def _stop_inotify(self) -> None:
        if self._inotify is not None:
            asyncio.get_running_loop().remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None
