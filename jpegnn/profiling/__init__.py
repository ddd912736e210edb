"""Model profiling: parameters, MACs (fvcore), latency, peak memory and GPU energy (NVML).

Pure measurement code, no Lightning: the callbacks in :mod:`jpegnn.callbacks` and the
``jpegnn profile`` command are thin layers over it.

* :mod:`~jpegnn.profiling.inputs`: ``WIDTHxHEIGHT`` sizes, a deterministic test image.
* :mod:`~jpegnn.profiling.params`: parameter counts and float32 MB.
* :mod:`~jpegnn.profiling.macs`: fvcore MAC counts (1 fused multiply-add = 1 MAC).
* :mod:`~jpegnn.profiling.workloads`: a module's parts, per-side networks and codec (the
  optional ``complexity_parts`` / ``complexity_functions`` / ``coding_functions`` hooks).
* :mod:`~jpegnn.profiling.lic`: those hooks for CompressAI networks.
* :mod:`~jpegnn.profiling.complexity`: the ``complexity.json`` report.
* :mod:`~jpegnn.profiling.timing`, :mod:`~jpegnn.profiling.memory`: latency, peak memory.
* :mod:`~jpegnn.profiling.energy`: NVML energy arithmetic and meters.
* :mod:`~jpegnn.profiling.summary`: the one-row profile of ``jpegnn profile``.
"""

from jpegnn.profiling.complexity import complexity_markdown, complexity_report, complexity_text
from jpegnn.profiling.energy import EnergyMeter, EnergyUnavailable, measure_idle_power, measure_repeated, open_nvml_device
from jpegnn.profiling.inputs import parse_size, synthetic_image
from jpegnn.profiling.lic import lic_coding_functions, lic_functions, lic_parts
from jpegnn.profiling.macs import MacCount, count_macs
from jpegnn.profiling.memory import PeakMemory
from jpegnn.profiling.params import count_parameters
from jpegnn.profiling.summary import profile_module, setup_energy
from jpegnn.profiling.timing import time_callable
from jpegnn.profiling.workloads import resolve_coding, resolve_functions, resolve_parts

__all__ = [
    "EnergyMeter",
    "EnergyUnavailable",
    "MacCount",
    "PeakMemory",
    "complexity_markdown",
    "complexity_report",
    "complexity_text",
    "count_macs",
    "count_parameters",
    "lic_coding_functions",
    "lic_functions",
    "lic_parts",
    "measure_idle_power",
    "measure_repeated",
    "open_nvml_device",
    "parse_size",
    "profile_module",
    "resolve_coding",
    "resolve_functions",
    "resolve_parts",
    "setup_energy",
    "synthetic_image",
    "time_callable",
]
