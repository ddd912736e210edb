"""One-row profile of a model: parameters, MACs, codec latency, peak memory, decode energy.

:func:`profile_module` is what ``jpegnn profile`` runs for each model; its row has the keys

``params``, ``params_mb_fp32``
    Parameter count; float32 storage in MB (10**6 bytes).
``gmacs_encoder``, ``gmacs_decoder``, ``kmacs_per_pixel_encoder``, ``kmacs_per_pixel_decoder``
    fvcore MACs of each side's networks at the profiled size (None for a module without sides,
    which gets ``gmacs_forward`` instead). See :mod:`jpegnn.profiling.complexity`.
``encode_ms``, ``decode_ms``
    Median wall time of the codec (:func:`jpegnn.profiling.workloads.resolve_coding`: real rANS
    entropy coding for CompressAI models), after ``warmup`` calls, over ``repeats`` calls,
    device-synchronised. ``*_timing`` hold mean/min/max too.
``cpu_threads``
    ``torch.get_num_threads()`` during the timing (CPU latency scales with it; rANS runs on
    the CPU on every device).
``bits_per_pixel``
    Size of the bitstream the timed encode produced (when the codec returns one).
``peak_memory_mb``, ``memory_kind``
    Peak memory while encoding and decoding (``cuda_max_allocated`` or the process-wide
    ``process_peak_rss``; see :mod:`jpegnn.profiling.memory`).
``energy_j_per_frame``
    GPU energy above idle of one real decode (J), the decode repeated for at least
    ``energy_seconds``; None (with ``energy_unavailable`` giving the reason) without NVML/GPU.
    GPU energy only: the CPU's share (rANS runs on the CPU) is not included.
``energy_decoder_network_j_per_frame``
    The same for the decoder networks alone (entropy decoding excluded).
``energy_forward_j_per_frame``
    The same for one forward pass of a module without encoder/decoder sides (which has
    ``forward_ms`` and a null ``energy_j_per_frame``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from jpegnn.profiling.complexity import complexity_report
from jpegnn.profiling.energy import EnergyMeter, EnergyUnavailable, NvmlDevice, measure_idle_power, measure_repeated, open_nvml_device
from jpegnn.profiling.inputs import format_size, synthetic_image
from jpegnn.profiling.memory import PeakMemory
from jpegnn.profiling.modes import eval_mode
from jpegnn.profiling.timing import synchronize, time_callable
from jpegnn.profiling.workloads import resolve_coding, resolve_functions

__all__ = ["EnergySetup", "setup_energy", "profile_module", "PROFILE_COLUMNS"]

#: (row key, column header) of the printed table
PROFILE_COLUMNS: list[tuple[str, str]] = [
    ("model", "model"),
    ("params_m", "params (M)"),
    ("params_mb_fp32", "MB fp32"),
    ("gmacs_encoder", "GMACs enc"),
    ("gmacs_decoder", "GMACs dec"),
    ("kmacs_per_pixel_encoder", "kMAC/px enc"),
    ("kmacs_per_pixel_decoder", "kMAC/px dec"),
    ("encode_ms", "encode ms"),
    ("decode_ms", "decode ms"),
    ("peak_memory_mb", "peak MB"),
    ("energy_j_per_frame", "J/frame"),
]


@dataclass
class EnergySetup:
    """An opened GPU and its idle power (W), or the reason energy cannot be measured."""

    device: Optional[NvmlDevice] = None
    idle_w: Optional[float] = None
    reason: Optional[str] = None

    @property
    def available(self) -> bool:
        return self.device is not None


def setup_energy(device: torch.device | str, idle_seconds: float = 1.0, nvml: Any = None) -> EnergySetup:
    """Open NVML for ``device`` and measure its idle power for ``idle_seconds`` (nothing may run).

    Never raises: without a CUDA device or NVML the result carries the reason instead.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return EnergySetup(reason=f"no CUDA device (profiling on {device.type})")
    try:
        gpu = open_nvml_device(device.index if device.index is not None else torch.cuda.current_device(), nvml)
        synchronize(device)
        idle = measure_idle_power(gpu, idle_seconds) if gpu.power_supported else None
    except EnergyUnavailable as exc:
        return EnergySetup(reason=str(exc))
    return EnergySetup(device=gpu, idle_w=idle)


def _bits_per_pixel(encoded: Any, pixels: int) -> Optional[float]:
    num_bytes = getattr(encoded, "num_bytes", None)
    return None if num_bytes is None else num_bytes * 8.0 / pixels


def profile_module(
    module: nn.Module,
    size: tuple[int, int] = (768, 512),
    device: torch.device | str = "cpu",
    repeats: int = 5,
    warmup: int = 1,
    image: Optional[Tensor] = None,
    energy: Optional[EnergySetup] = None,
    energy_seconds: float = 1.0,
    name: str = "model",
) -> dict[str, Any]:
    """Profile ``module`` (moved to ``device``) on one ``size`` image; returns the row described in
    the module docstring.

    Args:
        module: Any LightningModule / ``nn.Module``.
        size: ``(width, height)`` for MACs and, without ``image``, of the synthetic test image.
        device: ``"cpu"`` or ``"cuda[:i]"``.
        repeats: Timed calls per codec side (median reported).
        warmup: Untimed calls first.
        image: Optional ``1 x 3 x H x W`` image in [0, 1] for latency and energy (default: the
            deterministic :func:`~jpegnn.profiling.inputs.synthetic_image` of ``size``).
        energy: From :func:`setup_energy` (shared by all models of a run); None: not measured.
        energy_seconds: Minimum wall time of each energy measurement.
        name: Row label.
    """
    device = torch.device(device)
    module = module.to(device)
    width, height = size
    row: dict[str, Any] = {"model": name, "size": format_size(size), "device": str(device),
                           "cpu_threads": torch.get_num_threads()}
    report = complexity_report(module, size, device=device)
    row.update(
        params=report["params"],
        params_m=report["params"] / 1e6,
        params_mb_fp32=report["params_mb_fp32"],
        gmacs_encoder=report.get("gmacs_encoder"),
        gmacs_decoder=report.get("gmacs_decoder"),
        kmacs_per_pixel_encoder=report.get("kmacs_per_pixel_encoder"),
        kmacs_per_pixel_decoder=report.get("kmacs_per_pixel_decoder"),
    )
    if "gmacs_forward" in report:
        row["gmacs_forward"] = report["gmacs_forward"]
        row["kmacs_per_pixel_forward"] = report["kmacs_per_pixel_forward"]
    row["complexity"] = report

    x = image.to(device) if image is not None else synthetic_image(width, height, device=device)
    row["latency_image"] = "given image" if image is not None else f"synthetic {format_size(size)} (seed 0)"
    with eval_mode(module):
        coding, description = resolve_coding(module, x)
        row["coding"] = description
        peak = PeakMemory(device)
        peak.start()
        timings = {side: time_callable(fn, device, repeats=repeats, warmup=warmup) for side, fn in coding.items()}
        memory = peak.stop()
        if "encode" in coding:
            row["bits_per_pixel"] = _bits_per_pixel(coding["encode"](), x.shape[-1] * x.shape[-2])
        for side, stats in timings.items():
            row[f"{side}_ms"] = stats.median_ms
            row[f"{side}_timing"] = stats.to_dict()
        row.setdefault("encode_ms", None)
        row.setdefault("decode_ms", None)
        row["peak_memory_mb"] = memory.peak_mb
        row["memory_kind"] = memory.kind
        row["memory"] = memory.to_dict()

        row["energy_j_per_frame"] = None
        row["energy_decoder_network_j_per_frame"] = None
        if energy is None:
            row["energy_unavailable"] = "not requested"
        elif not energy.available:
            row["energy_unavailable"] = energy.reason
        else:
            row["energy_unavailable"] = None
            row["energy_idle_w"] = energy.idle_w
            sync = lambda: synchronize(device)  # noqa: E731
            decoders = {"energy_j_per_frame": coding.get("decode")}
            network = resolve_functions(module, x).get("decoder")
            decoders["energy_decoder_network_j_per_frame"] = network
            # a module without encoder/decoder (enhancement, q-table networks): its forward pass,
            # beside forward_ms (J/frame stays null: there is no decode)
            decoders["energy_forward_j_per_frame"] = coding.get("forward")
            for key, fn in decoders.items():
                if fn is None:
                    continue
                meter = EnergyMeter(energy.device, idle_w=energy.idle_w)
                result = measure_repeated(fn, meter, min_seconds=energy_seconds, sync=sync)
                row[key] = result.net_j_per_call
                row[key.replace("_j_per_frame", "_detail")] = result.to_dict()
            row["energy_mode"] = "counter" if energy.device.counter_supported else "sampling"
    return row
