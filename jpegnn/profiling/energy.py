"""GPU energy from NVML: counter differences, power integration, idle subtraction, DDP sums.

Units: joules (J), watts (W), seconds (s). NVML reports millijoules (mJ) and milliwatts (mW).

Two ways to measure the energy of a region, chosen per device:

* **counter** (Volta and newer): ``nvmlDeviceGetTotalEnergyConsumption`` is a monotonic
  ``unsigned long long`` count of mJ since the driver was loaded. Energy = end - start, taken
  modulo 2**64 so that a wraparound still gives the right difference. The counter advances in
  steps (about every 20-100 ms depending on the GPU), so a region must last well beyond that:
  :func:`measure_repeated` repeats a workload until at least ``min_seconds`` (1 s by default)
  have passed and divides by the number of calls.
* **sampling** (fallback where the counter reports "not supported"): a background thread reads
  ``nvmlDeviceGetPowerUsage`` (mW, itself averaged by the driver over about a second on recent
  GPUs) every ``interval_s`` and the samples are integrated with the trapezoidal rule.

**Idle subtraction.** :func:`measure_idle_power` samples power for a short window while nothing
runs; ``net = gross - idle_W x seconds`` is the energy the work added on top of what the GPU
would have drawn anyway. Net values can come out slightly negative for tiny workloads (noise);
they are reported as measured, never clipped.

**Implausible readings.** A counter reset (driver reload) between two reads shows up as a
difference near 2**64 mJ; any reading whose mean power exceeds ``max_plausible_w`` (5 kW) is
rejected with :class:`EnergyUnavailable` instead of being reported.

**DDP.** Each rank measures its own GPU; :func:`sum_across_ranks` adds the per-rank joules (and
image counts) with a caller-supplied reducer (``trainer.strategy.reduce(..., "sum")`` in the
callbacks), so J/image = total joules of all GPUs / total images of all ranks.

Everything NVML-specific goes through an injectable ``nvml`` module object (``pynvml`` by
default) so the arithmetic is tested against a fake (``tests/profiling/test_energy.py``).
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional, Sequence

__all__ = [
    "COUNTER_MODULUS",
    "EnergyUnavailable",
    "counter_delta_mj",
    "integrate_power",
    "net_joules",
    "NvmlDevice",
    "open_nvml_device",
    "PowerSampler",
    "measure_idle_power",
    "EnergyReading",
    "EnergyMeter",
    "RepeatedEnergy",
    "measure_repeated",
    "sum_across_ranks",
    "repeatability",
]

#: the energy counter is an unsigned 64-bit integer of millijoules
COUNTER_MODULUS = 2**64
#: mean power above which a reading is treated as a counter reset / garbage (W)
MAX_PLAUSIBLE_W = 5000.0


class EnergyUnavailable(Exception):
    """Energy cannot be measured here; ``str(exc)`` is the one-line reason."""


# ---------------------------------------------------------------------------------- arithmetic
def counter_delta_mj(start_mj: int, end_mj: int, modulus: int = COUNTER_MODULUS) -> int:
    """Millijoules between two reads of a monotonic counter that wraps at ``modulus``."""
    return (int(end_mj) - int(start_mj)) % modulus


def integrate_power(samples: Sequence[tuple[float, float]]) -> float:
    """Joules from ``(time_s, power_W)`` samples by the trapezoidal rule (0 for < 2 samples)."""
    energy = 0.0
    for (t0, p0), (t1, p1) in zip(samples, samples[1:]):
        energy += 0.5 * (p0 + p1) * (t1 - t0)
    return energy


def net_joules(gross_j: float, seconds: float, idle_w: Optional[float]) -> float:
    """Energy above idle: ``gross_j - idle_w * seconds`` (``gross_j`` when idle is unknown)."""
    return gross_j if idle_w is None else gross_j - idle_w * seconds


def _check_plausible(joules: float, seconds: float, max_w: float) -> None:
    if seconds > 0 and joules / seconds > max_w:
        raise EnergyUnavailable(
            f"implausible energy reading ({joules:.3g} J in {seconds:.3g} s): the NVML counter was reset?"
        )


# ------------------------------------------------------------------------------------- devices
def _nvml_error_text(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


class NvmlDevice:
    """One GPU seen through NVML: energy counter (mJ) and power (mW), converted to J and W.

    Args:
        nvml: The NVML module (``pynvml``) or a fake with the same functions.
        handle: Device handle from ``nvmlDeviceGetHandleBy*``.
        name: For messages.
    """

    def __init__(self, nvml: Any, handle: Any, name: str = "GPU") -> None:
        self.nvml, self.handle, self.name = nvml, handle, name
        self._counter_supported: Optional[bool] = None

    def energy_mj(self) -> int:
        """Total-energy counter in millijoules (raises NVML's error when unsupported)."""
        return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def power_w(self) -> float:
        """Current board power draw in watts."""
        return float(self.nvml.nvmlDeviceGetPowerUsage(self.handle)) / 1000.0

    @property
    def counter_supported(self) -> bool:
        """Whether the total-energy counter can be read (Volta and newer, not on MIG slices)."""
        if self._counter_supported is None:
            try:
                self.energy_mj()
                self._counter_supported = True
            except Exception:  # noqa: BLE001 - NVMLError_NotSupported and friends
                self._counter_supported = False
        return self._counter_supported

    @property
    def power_supported(self) -> bool:
        try:
            self.power_w()
            return True
        except Exception:  # noqa: BLE001
            return False


def _torch_device_handle(nvml: Any, index: int) -> tuple[Any, str]:
    """NVML handle of torch's CUDA device ``index`` (torch indices follow CUDA_VISIBLE_DEVICES,
    NVML's do not): matched by UUID, then PCI bus id, then the index itself."""
    import torch

    props = torch.cuda.get_device_properties(index)
    name = f"cuda:{index} ({props.name})"
    uuid = getattr(props, "uuid", None)
    if uuid is not None:
        for prefix in ("GPU-", "MIG-", ""):
            try:
                return nvml.nvmlDeviceGetHandleByUUID(f"{prefix}{uuid}"), name
            except Exception:  # noqa: BLE001
                pass
    if hasattr(props, "pci_bus_id"):
        bus = f"{getattr(props, 'pci_domain_id', 0):08X}:{props.pci_bus_id:02X}:{getattr(props, 'pci_device_id', 0):02X}.0"
        try:
            return nvml.nvmlDeviceGetHandleByPciBusId(bus), name
        except Exception:  # noqa: BLE001
            pass
    return nvml.nvmlDeviceGetHandleByIndex(index), name


def open_nvml_device(index: int, nvml: Any = None) -> NvmlDevice:
    """Initialise NVML and open torch's CUDA device ``index``.

    Raises:
        EnergyUnavailable: pynvml is missing, NVML does not initialise (no driver), the device is
            not found, or it reports neither an energy counter nor power.
    """
    if nvml is None:
        try:
            import pynvml as nvml  # nvidia-ml-py
        except ImportError as exc:
            raise EnergyUnavailable(f"pynvml (nvidia-ml-py) is not installed ({exc})") from None
    try:
        nvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
        raise EnergyUnavailable(f"NVML could not be initialised: {_nvml_error_text(exc)}") from None
    try:
        handle, name = _torch_device_handle(nvml, index)
    except Exception as exc:  # noqa: BLE001
        raise EnergyUnavailable(f"NVML has no handle for cuda:{index}: {_nvml_error_text(exc)}") from None
    device = NvmlDevice(nvml, handle, name)
    if not device.counter_supported and not device.power_supported:
        raise EnergyUnavailable(f"{name} reports neither an energy counter nor power draw through NVML")
    return device


# ------------------------------------------------------------------------------------ sampling
class PowerSampler:
    """Background thread reading ``device.power_w()`` every ``interval_s`` seconds.

    ``start()`` takes a first sample, ``stop()`` a last one and returns the joules integrated over
    the samples (trapezoidal rule); ``samples`` keeps ``(time_s, watts)``.
    """

    def __init__(self, device: NvmlDevice, interval_s: float = 0.01, clock: Callable[[], float] = time.perf_counter):
        self.device, self.interval_s, self.clock = device, float(interval_s), clock
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _sample(self) -> None:
        self.samples.append((self.clock(), self.device.power_w()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> None:
        self.samples = []
        self._stop.clear()
        self._sample()
        self._thread = threading.Thread(target=self._run, name="jpegnn-power-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._sample()
        return integrate_power(self.samples)


def measure_idle_power(
    device: NvmlDevice,
    seconds: float = 1.0,
    interval_s: float = 0.02,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Mean idle power in watts: ``nvmlDeviceGetPowerUsage`` sampled for ``seconds`` while the
    caller runs nothing on the device (time-weighted mean of the samples)."""
    samples = [(clock(), device.power_w())]
    while samples[-1][0] - samples[0][0] < seconds:
        sleep(interval_s)
        samples.append((clock(), device.power_w()))
    duration = samples[-1][0] - samples[0][0]
    if duration <= 0:
        return samples[-1][1]
    return integrate_power(samples) / duration


# --------------------------------------------------------------------------------------- meter
@dataclass
class EnergyReading:
    """Energy of one or more measured segments (J, s, W); ``net_j`` is above idle."""

    gross_j: float
    seconds: float
    idle_w: Optional[float]
    mode: str

    @property
    def net_j(self) -> float:
        return net_joules(self.gross_j, self.seconds, self.idle_w)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["net_j"] = self.net_j
        return d


class EnergyMeter:
    """Accumulates device energy over ``start()``/``stop()`` segments.

    Args:
        device: The GPU.
        idle_w: Idle power to subtract (W), e.g. from :func:`measure_idle_power`; None keeps
            gross figures only.
        mode: ``"auto"`` (counter where supported, else sampling), ``"counter"`` or ``"sampling"``.
        interval_s: Sampling period of the fallback (s).
        clock: Seconds clock (injectable for tests).
        max_plausible_w: Readings above this mean power raise :class:`EnergyUnavailable`.
    """

    def __init__(
        self,
        device: NvmlDevice,
        idle_w: Optional[float] = None,
        mode: str = "auto",
        interval_s: float = 0.01,
        clock: Callable[[], float] = time.perf_counter,
        max_plausible_w: float = MAX_PLAUSIBLE_W,
    ) -> None:
        if mode not in ("auto", "counter", "sampling"):
            raise ValueError(f"mode must be 'auto', 'counter' or 'sampling', got {mode!r}")
        if mode == "auto":
            mode = "counter" if device.counter_supported else "sampling"
        self.device, self.idle_w, self.mode, self.clock = device, idle_w, mode, clock
        self.interval_s, self.max_plausible_w = interval_s, max_plausible_w
        self.gross_j = 0.0
        self.seconds = 0.0
        self._t0: Optional[float] = None
        self._e0: Optional[int] = None
        self._sampler: Optional[PowerSampler] = None

    @property
    def running(self) -> bool:
        return self._t0 is not None

    def reset(self) -> None:
        """Forget accumulated energy (a running segment is abandoned)."""
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None
        self.gross_j, self.seconds, self._t0, self._e0 = 0.0, 0.0, None, None

    def start(self) -> None:
        """Begin a segment (the caller synchronises the device first)."""
        if self.running:
            return
        if self.mode == "counter":
            self._e0 = self.device.energy_mj()
        else:
            self._sampler = PowerSampler(self.device, self.interval_s, self.clock)
            self._sampler.start()
        self._t0 = self.clock()

    def stop(self) -> EnergyReading:
        """End the segment (synchronise the device first) and return this segment's reading."""
        if not self.running:
            return EnergyReading(0.0, 0.0, self.idle_w, self.mode)
        if self.mode == "counter":
            joules = counter_delta_mj(self._e0, self.device.energy_mj()) / 1000.0
            seconds = self.clock() - self._t0
        else:
            # the sampler's own window (first to last sample), so that idle power is subtracted
            # over exactly the interval the samples integrate
            sampler, self._sampler = self._sampler, None
            joules = sampler.stop()
            seconds = sampler.samples[-1][0] - sampler.samples[0][0]
        self._t0, self._e0 = None, None
        _check_plausible(joules, seconds, self.max_plausible_w)
        self.gross_j += joules
        self.seconds += seconds
        return EnergyReading(joules, seconds, self.idle_w, self.mode)

    def reading(self) -> EnergyReading:
        """Everything accumulated since construction or :meth:`reset`."""
        return EnergyReading(self.gross_j, self.seconds, self.idle_w, self.mode)


# ------------------------------------------------------------------------------------- repeats
@dataclass
class RepeatedEnergy:
    """Energy per call of a repeated workload (J per call; ``net`` is above idle)."""

    calls: int
    reading: EnergyReading

    @property
    def gross_j_per_call(self) -> float:
        return self.reading.gross_j / self.calls

    @property
    def net_j_per_call(self) -> float:
        return self.reading.net_j / self.calls

    @property
    def seconds_per_call(self) -> float:
        return self.reading.seconds / self.calls

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "gross_j_per_call": self.gross_j_per_call,
            "net_j_per_call": self.net_j_per_call,
            "ms_per_call": self.seconds_per_call * 1e3,
            **{f"total_{k}": v for k, v in self.reading.to_dict().items()},
        }


def measure_repeated(
    fn: Callable[[], Any],
    meter: EnergyMeter,
    min_seconds: float = 1.0,
    min_calls: int = 1,
    warmup: int = 1,
    sync: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.perf_counter,
) -> RepeatedEnergy:
    """Energy per call of ``fn()``, repeating it until ``min_seconds`` of wall time have passed.

    ``warmup`` unmeasured calls come first. The segment starts after ``sync()`` and ends after
    a final ``sync()`` (``torch.cuda.synchronize``), so queued kernels are included. With the
    counter's 20-100 ms granularity, 1 s of work bounds the quantisation error to a few percent.
    """
    for _ in range(max(int(warmup), 0)):
        fn()
    sync()
    meter.start()
    t0 = clock()
    calls = 0
    while calls < max(int(min_calls), 1) or clock() - t0 < min_seconds:
        fn()
        calls += 1
    sync()
    reading = meter.stop()
    return RepeatedEnergy(calls=calls, reading=reading)


# ------------------------------------------------------------------------------------------ DDP
def sum_across_ranks(
    values: Sequence[float], reducer: Optional[Callable[[list[float]], Sequence[float]]] = None
) -> list[float]:
    """Element-wise sum of ``values`` over all ranks.

    ``reducer`` maps this rank's list to the summed list (an all-reduce; every rank must call it,
    never behind a rank-zero guard). None means a single process: the values are returned as is.
    """
    values = [float(v) for v in values]
    if reducer is None:
        return values
    summed = [float(v) for v in reducer(values)]
    if len(summed) != len(values):
        raise ValueError(f"reducer returned {len(summed)} values for {len(values)}")
    return summed


# ------------------------------------------------------------------------------- repeatability
def repeatability(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (n - 1), coefficient of variation (std / mean) and range
    of repeated measurements of one quantity; std and CV are None for fewer than 2 values."""
    values = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not values:
        return {"n": 0, "mean": None, "std": None, "cv": None, "min": None, "max": None}
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    cv = std / abs(mean) if std is not None and mean != 0 else None
    return {"n": len(values), "mean": mean, "std": std, "cv": cv, "min": min(values), "max": max(values)}
