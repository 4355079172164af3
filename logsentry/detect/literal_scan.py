"""Finding many literals in many short texts with one Hyperscan call.

Both literal prefilters of detection (the native rules' message words, `literals.py`,
and the Sigma rules' literals, `sigma/prefilter.py`) ask the same question of a batch:
which of these literals does each line hold? Calling Hyperscan once a line costs more
than the scan itself, so the batch's texts are joined with NUL (no literal holds one,
so no match spans two texts) and scanned in one call; each match is told to its text
by its end offset. Reporting a match costs a Python call: a batch whose texts hold
more occurrences than the caller's budget stops early, and the caller treats its lines
another way (every rule tested, or each line scanned with a literal reported once).

Without the `hyperscan` package (it is built for x86-64) `HYPERSCAN` is None and no
`LiteralScan` can be made: callers then test every rule, or use pyahocorasick.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

try:  # built for x86-64: elsewhere callers do without
    import hyperscan as _hyperscan

    HYPERSCAN: Any = _hyperscan
except ImportError:
    HYPERSCAN = None


def _collect(number: int, start: int, end: int, flags: int, found: set[int]) -> None:
    found.add(number)


class LiteralScan:
    """A Hyperscan database of `literals` (their numbers are their positions), found in
    any ASCII letter case. `single_match` reports each literal once a scan (for one
    text at a time); a batch's scan needs every occurrence. A scan needs scratch space
    of its own: one per thread."""

    def __init__(self, literals: Sequence[str], *, single_match: bool = False) -> None:
        flags = HYPERSCAN.HS_FLAG_CASELESS
        if single_match:
            flags |= HYPERSCAN.HS_FLAG_SINGLEMATCH
        database = HYPERSCAN.Database(mode=HYPERSCAN.HS_MODE_BLOCK)
        database.compile(expressions=[literal.encode("utf-8") for literal in literals],
                         ids=list(range(len(literals))), elements=len(literals),
                         flags=flags, literal=True)
        self._database = database
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = HYPERSCAN.Scratch(self._database)
        return scratch

    def found(self, data: bytes) -> set[int]:
        """The numbers of the literals in `data` (one text)."""
        found: set[int] = set()
        self._database.scan(data, _collect, context=found, scratch=self._scratch())
        return found

    def found_in_texts(self, data: bytes, ends: list[int],
                       budget: int) -> list[tuple[int, int]] | None:
        """(text, literal number) for each occurrence in `data`, texts joined by NUL whose
        end offsets (in bytes, ascending) are `ends`; None when there are more than
        `budget` occurrences."""
        matches: list[tuple[int, int]] = []
        append = matches.append

        def report(number: int, start: int, end: int, flags: int, context: Any) -> bool:
            append((bisect_left(ends, end), number))
            return len(matches) > budget

        try:
            self._database.scan(data, report, scratch=self._scratch())
        except HYPERSCAN.ScanTerminated:
            return None
        return matches
