"""Bounding the flow's resident memory: glibc's arena cap and handing freed pages back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from voc import memory

pytestmark = pytest.mark.skipif(memory._glibc() is None, reason="needs glibc")


def _run(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, **env},
    )
    return out.stdout.strip()


def test_the_arena_cap_is_set_unless_the_operator_set_malloc_arena_max() -> None:
    code = "from voc.memory import limit_malloc_arenas; print(limit_malloc_arenas())"
    assert _run(code) == "True"
    assert _run(code, MALLOC_ARENA_MAX="4") == "False"


def test_freed_batch_memory_goes_back_to_the_system() -> None:
    # A batch's worth of texts made and dropped in a worker thread (as a stage does):
    # without malloc_trim glibc keeps the freed pages in the thread's arena. (Texts over
    # 512 bytes: smaller objects live in Python's own allocator, which malloc_trim does
    # not reach.)
    code = """
        import os, threading
        from voc.memory import release_free_memory

        def rss_mb():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

        def batch():
            texts = [f"第{i}条评论：物流太慢了，客服也不回复" * 20 for i in range(100_000)]
            kept.append(len(texts))
            # every other string survives, so the arena's top cannot simply shrink
            kept.append(texts[::50])

        kept = []
        t = threading.Thread(target=batch)
        t.start()
        t.join()
        kept.pop()
        before = rss_mb()
        released = release_free_memory()
        print(released, round(before - rss_mb()))
    """
    released, freed_mb = _run(code).split()
    assert released == "True"
    assert int(freed_mb) > 50
