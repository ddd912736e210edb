"""Wall-clock latency of a callable with device synchronisation, warm-up and the median of repeats.

CUDA kernels run asynchronously: a timer read right after a call measures only the launch. Each
repeat is therefore bracketed by ``torch.cuda.synchronize`` on CUDA devices (a no-op elsewhere),
so a repeat covers all the work the call queued. Warm-up calls (cuDNN autotuning, allocator
growth, lazy CDF construction) are run first and not recorded. The reported figure is the
median, which ignores the occasional slow repeat (another process, a page fault).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch

__all__ = ["synchronize", "TimingStats", "time_callable", "busy_cpu_seconds"]


def synchronize(device: torch.device | str | None) -> None:
    """Wait for all queued work on ``device`` (CUDA only; other devices run synchronously)."""
    if device is None:
        return
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(device)


@dataclass
class TimingStats:
    """Latency of repeated calls, in milliseconds (``median_ms`` is the headline figure)."""

    median_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    repeats: int
    warmup: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_callable(
    fn: Callable[[], Any],
    device: torch.device | str | None = None,
    repeats: int = 5,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> TimingStats:
    """Time ``fn()``: ``warmup`` unrecorded calls, then ``repeats`` synchronised, timed calls.

    Args:
        fn: Zero-argument callable (its result is discarded).
        device: Device the work runs on; CUDA devices are synchronised around every call.
        repeats: Recorded calls (at least 1).
        warmup: Unrecorded calls made first.
        clock: Seconds clock (``time.perf_counter``; injectable for tests).

    Returns:
        :class:`TimingStats` in milliseconds.
    """
    repeats = max(int(repeats), 1)
    for _ in range(max(int(warmup), 0)):
        fn()
    synchronize(device)
    times_ms = []
    for _ in range(repeats):
        synchronize(device)
        t0 = clock()
        fn()
        synchronize(device)
        times_ms.append((clock() - t0) * 1e3)
    return TimingStats(
        median_ms=float(statistics.median(times_ms)),
        mean_ms=float(statistics.fmean(times_ms)),
        min_ms=float(min(times_ms)),
        max_ms=float(max(times_ms)),
        repeats=repeats,
        warmup=max(int(warmup), 0),
    )


def busy_cpu_seconds() -> float | None:
    """CPU seconds all processes on this machine have spent busy since boot (Linux ``/proc/stat``:
    every state but idle and iowait), or None where that file is not readable. Benchmarks read it
    around a timed section and subtract their own CPU time to report contention from other
    processes beside a ratio."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
