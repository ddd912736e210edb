"""Parameter storage and peak memory.

Units: bytes, and MB = 10**6 bytes (not MiB) everywhere in jpegnn's profiling output.

Peak memory is measured in one of two ways, named in every result (``kind``):

* ``cuda_max_allocated``: ``torch.cuda.max_memory_allocated`` after
  ``torch.cuda.reset_peak_memory_stats`` on the device, i.e. the largest amount of memory held by
  tensors during the measured region (PyTorch's caching allocator; the reserved, cached total is
  reported beside it). ``increase_bytes`` is that peak minus what was allocated when the region
  began (weights, gradients, optimizer states), i.e. activations and workspaces. Resetting the
  peak statistics affects any other code that reads them.
* ``process_peak_rss``: on CPU, the process's peak resident set size from
  ``resource.getrusage(RUSAGE_SELF).ru_maxrss``. It is process-wide and only ever grows: it
  includes the Python interpreter, every imported library, data loaders' buffers and anything an
  earlier measurement in the same process touched, so it is an upper bound, not a per-model or
  per-region figure.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any, Optional

import torch
from torch import nn

__all__ = [
    "MB",
    "parameter_bytes",
    "buffer_bytes",
    "process_peak_rss_bytes",
    "PeakMemory",
    "PeakMemoryResult",
]

#: bytes per MB (decimal megabyte)
MB = 1_000_000


def parameter_bytes(module: nn.Module) -> int:
    """Bytes held by the module's (unique) parameters at their current dtypes."""
    return sum(p.numel() * p.element_size() for p in module.parameters())


def buffer_bytes(module: nn.Module) -> int:
    """Bytes held by the module's (unique) buffers (e.g. CompressAI's CDF tables)."""
    return sum(b.numel() * b.element_size() for b in module.buffers())


def process_peak_rss_bytes() -> Optional[int]:
    """Peak resident set size of this process in bytes (None where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


@dataclass
class PeakMemoryResult:
    """Peak memory of a region; see the module docstring for the two ``kind`` values."""

    kind: str
    peak_bytes: Optional[int]
    baseline_bytes: Optional[int] = None
    increase_bytes: Optional[int] = None
    peak_reserved_bytes: Optional[int] = None

    @property
    def peak_mb(self) -> Optional[float]:
        return None if self.peak_bytes is None else self.peak_bytes / MB

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["peak_mb"] = self.peak_mb
        d["increase_mb"] = None if self.increase_bytes is None else self.increase_bytes / MB
        return d


class PeakMemory:
    """Context manager (or ``start()``/``stop()``) measuring the peak memory of a region.

    Example::

        with PeakMemory(device) as pm:
            model(x)
        pm.result.peak_mb
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.result: Optional[PeakMemoryResult] = None
        self._baseline: Optional[int] = None

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda" and torch.cuda.is_available()

    def start(self) -> None:
        if self.is_cuda:
            torch.cuda.synchronize(self.device)
            self._baseline = int(torch.cuda.memory_allocated(self.device))
            torch.cuda.reset_peak_memory_stats(self.device)

    def stop(self) -> PeakMemoryResult:
        if self.is_cuda:
            torch.cuda.synchronize(self.device)
            peak = int(torch.cuda.max_memory_allocated(self.device))
            base = self._baseline or 0
            self.result = PeakMemoryResult(
                kind="cuda_max_allocated",
                peak_bytes=peak,
                baseline_bytes=base,
                increase_bytes=max(peak - base, 0),
                peak_reserved_bytes=int(torch.cuda.max_memory_reserved(self.device)),
            )
        else:
            self.result = PeakMemoryResult(kind="process_peak_rss", peak_bytes=process_peak_rss_bytes())
        return self.result

    def __enter__(self) -> "PeakMemory":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
