"""profile_module's energy figures on the fake NVML (no GPU needed)."""

from __future__ import annotations

import pytest
from torch import nn

from jpegnn.profiling.summary import EnergySetup, profile_module
from tests.profiling.fakes import FakeNvml, RealClock, fake_device


class _Plain(nn.Module):  # no codec, no sides: profiled through its forward pass
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def test_module_without_codec_gets_the_energy_of_its_forward():
    energy = EnergySetup(device=fake_device(FakeNvml(RealClock(), counter_w=100.0, power_w=40.0)), idle_w=40.0)
    row = profile_module(_Plain(), (16, 16), repeats=1, warmup=0, energy=energy, energy_seconds=0.05)
    assert row["energy_unavailable"] is None and row["energy_mode"] == "counter"
    detail = row["energy_forward_detail"]
    # 60 W above idle for the measured time, per call (the counter has 1 mJ steps)
    j = row["energy_forward_j_per_frame"]
    assert j > 0 and j == pytest.approx(60.0 * detail["ms_per_call"] / 1e3, abs=2e-3 / detail["calls"])
    assert row["energy_j_per_frame"] is None  # no decode to measure
