"""Handing freed heap memory back to the operating system (glibc's malloc_trim)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: Callable[[int], int] = function
    return trim


def release_free_memory() -> bool:
    """Return the free pages of every malloc arena to the system; False where the C
    library has no malloc_trim. After a large transient allocation (a checkpoint's
    encoded state) glibc otherwise keeps the freed pages resident: the process's RSS
    stays at its peak although the memory is free."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
