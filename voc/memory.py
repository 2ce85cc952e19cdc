"""Keeping the flow's resident memory bounded: glibc's malloc arenas and free pages.

With several stage threads each allocating and freeing a batch's strings, glibc gives every
thread its own malloc arena (up to 8 per core) and keeps freed pages in them; the process's
RSS then grows with the number of threads, not with what it holds. Two calls bound that:
`limit_malloc_arenas` at start-up (before the threads exist) and `release_free_memory` after
each batch. Both do nothing where the C library is not glibc (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache

#: mallopt's parameter number for the arena cap (glibc's malloc.h, M_ARENA_MAX).
_M_ARENA_MAX = -8
#: Arenas when ``VOC_MALLOC_ARENAS`` is not set: one per core, at least two.
DEFAULT_ARENAS = max(2, os.cpu_count() or 2)


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 (present in glibc only)
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(arenas: int | None = None) -> bool:
    """Cap glibc's malloc arenas (``VOC_MALLOC_ARENAS``, default one per core).

    Call it before the worker threads start: threads that already have an arena keep it.
    Returns whether the cap was set (False off glibc, or when ``MALLOC_ARENA_MAX`` is
    already in the environment: the operator's own setting wins).
    """
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    n = arenas or int(os.environ.get("VOC_MALLOC_ARENAS") or DEFAULT_ARENAS)
    return bool(libc.mallopt(_M_ARENA_MAX, max(1, n)))


def release_free_memory() -> bool:
    """Give the pages malloc holds free back to the system (glibc ``malloc_trim``).

    Cheap (a few milliseconds) next to a batch of thousands of documents. Returns whether
    any memory was released.
    """
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
