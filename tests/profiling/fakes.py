"""A fake NVML module and clock for energy tests (no GPU needed)."""

from __future__ import annotations

import time

from jpegnn.callbacks.energy import EnergyCallback
from jpegnn.profiling.energy import COUNTER_MODULUS, NvmlDevice


class NotSupported(Exception):
    """Stands in for pynvml.NVMLError_NotSupported."""


class FakeClock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class FakeNvml:
    """The pynvml functions the energy code uses. The counter follows ``counter_w`` watts of the
    fake clock (mJ, starting at ``counter_start``); power reads return ``power_w`` watts."""

    def __init__(self, clock: FakeClock, counter_w: float = 100.0, power_w: float = 40.0,
                 counter_start: int = 5_000, counter: bool = True, init_error: str | None = None):
        self.clock, self.counter_w, self.power_w = clock, counter_w, power_w
        self.t0, self.counter_start, self.counter, self.init_error = clock(), counter_start, counter, init_error
        self.inits = 0

    def nvmlInit(self):
        self.inits += 1
        if self.init_error:
            raise RuntimeError(self.init_error)

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return ("handle", uuid)

    def nvmlDeviceGetHandleByPciBusId(self, bus):
        return ("handle", bus)

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("handle", index)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.counter:
            raise NotSupported("Not Supported")
        mj = self.counter_start + round((self.clock() - self.t0) * self.counter_w * 1000)
        return mj % COUNTER_MODULUS

    def nvmlDeviceGetPowerUsage(self, handle):
        return int(self.power_w * 1000)  # mW


def fake_device(nvml: "FakeNvml") -> NvmlDevice:
    """An :class:`NvmlDevice` on the fake NVML."""
    return NvmlDevice(nvml, nvml.nvmlDeviceGetHandleByIndex(0), "fake GPU")


class RealClock:
    """time.perf_counter with FakeClock's interface (for fakes driven by real time)."""

    def __call__(self) -> float:
        return time.perf_counter()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeGpuEnergy(EnergyCallback):
    """EnergyCallback on a fake NVML device driven by the real clock: the energy counter advances
    at 100 W and power reads (idle) give 40 W, so net energy is 60 W x measured time."""

    def _open_device(self, device):
        return fake_device(FakeNvml(RealClock(), counter_w=100.0, power_w=40.0))
