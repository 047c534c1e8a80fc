"""The process settings our CPU tools and evidence workers run with."""
from __future__ import annotations

import os
import sys
from typing import Mapping

__all__ = ['RETAIN_FREED_MEMORY', 'restart_with_env']

# glibc keeps freed memory instead of page-faulting it back every step (docs/benchmarks.md).
RETAIN_FREED_MEMORY = {'MALLOC_MMAP_THRESHOLD_': str(32 * 2 ** 20),
                       'MALLOC_TRIM_THRESHOLD_': str(2 ** 31 - 1)}


def restart_with_env(env: Mapping[str, str]) -> None:
    """Run this program again (``sys.argv``) with ``env`` set, unless it already is: glibc
    reads its malloc settings at start-up only. Does not return when it restarts."""
    if any(os.environ.get(k) != v for k, v in env.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], dict(os.environ, **env))
