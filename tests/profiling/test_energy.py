"""Energy arithmetic against a fake NVML: counter mode, wraparound, idle subtraction, sampling
fallback, repeated workloads, DDP sums, and the no-NVML path of this machine."""

from __future__ import annotations

import math
import time

import pytest

from jpegnn.profiling.energy import (
    COUNTER_MODULUS,
    EnergyMeter,
    EnergyUnavailable,
    PowerSampler,
    counter_delta_mj,
    integrate_power,
    measure_idle_power,
    measure_repeated,
    net_joules,
    open_nvml_device,
    repeatability,
    sum_across_ranks,
)
from tests.profiling.fakes import FakeClock, FakeNvml, fake_device



# ------------------------------------------------------------------------------ pure arithmetic
def test_counter_delta_is_monotonic_modulo_2_64():
    assert counter_delta_mj(1_000, 6_000) == 5_000
    assert counter_delta_mj(COUNTER_MODULUS - 500, 300) == 800  # wrapped around
    assert counter_delta_mj(7, 7) == 0


def test_trapezoidal_integration_and_idle_subtraction():
    assert integrate_power([(0.0, 0.0), (1.0, 10.0), (3.0, 10.0)]) == pytest.approx(5.0 + 20.0)
    assert integrate_power([(0.0, 50.0)]) == 0.0
    assert net_joules(25.0, 3.0, idle_w=5.0) == pytest.approx(10.0)
    assert net_joules(25.0, 3.0, idle_w=None) == 25.0


def test_repeatability_statistics():
    stats = repeatability([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0 and stats["std"] == pytest.approx(1.0) and stats["cv"] == pytest.approx(0.5)
    assert repeatability([4.0])["std"] is None
    assert repeatability([None, math.nan])["n"] == 0


def test_ddp_sum_with_a_fake_reducer():
    other_rank = [10.0, 2.0, 8.0]  # joules, frames, ... of rank 1
    reducer = lambda mine: [a + b for a, b in zip(mine, other_rank)]  # noqa: E731 - an all-reduce(sum)
    joules, frames, images = sum_across_ranks([5.0, 1.0, 4], reducer)
    assert (joules, frames, images) == (15.0, 3.0, 12.0)
    assert joules / frames == 5.0  # J/frame over both GPUs
    assert sum_across_ranks([1.0, 2.0]) == [1.0, 2.0]  # single process
    with pytest.raises(ValueError):
        sum_across_ranks([1.0, 2.0], lambda v: v[:1])


# ------------------------------------------------------------------------------------- counter
def test_counter_meter_gross_and_net():
    clock = FakeClock()
    nvml = FakeNvml(clock, counter_w=100.0)
    meter = EnergyMeter(fake_device(nvml), idle_w=40.0, clock=clock)
    assert meter.mode == "counter"
    meter.start()
    clock.sleep(2.0)
    segment = meter.stop()
    assert segment.gross_j == pytest.approx(200.0) and segment.seconds == pytest.approx(2.0)
    assert segment.net_j == pytest.approx(200.0 - 40.0 * 2.0)
    clock.sleep(10.0)  # not measured (paused, as during validation)
    meter.start()
    clock.sleep(1.0)
    meter.stop()
    total = meter.reading()
    assert total.gross_j == pytest.approx(300.0) and total.seconds == pytest.approx(3.0)
    assert total.net_j == pytest.approx(300.0 - 120.0)


def test_counter_wraparound_inside_a_measurement():
    clock = FakeClock()
    nvml = FakeNvml(clock, counter_w=100.0, counter_start=COUNTER_MODULUS - 50_000)  # wraps after 0.5 s
    meter = EnergyMeter(fake_device(nvml), clock=clock)
    meter.start()
    clock.sleep(1.0)
    assert meter.stop().gross_j == pytest.approx(100.0)


def test_counter_reset_is_rejected_not_reported():
    clock = FakeClock()
    nvml = FakeNvml(clock, counter_w=100.0, counter_start=10**9)
    meter = EnergyMeter(fake_device(nvml), clock=clock)
    meter.start()
    nvml.counter_start, nvml.t0 = 0, clock()  # driver reload: the counter restarts near 0
    clock.sleep(1.0)
    with pytest.raises(EnergyUnavailable, match="implausible"):
        meter.stop()


def test_repeat_until_min_seconds_and_divide():
    clock = FakeClock()
    nvml = FakeNvml(clock, counter_w=100.0)
    meter = EnergyMeter(fake_device(nvml), idle_w=40.0, clock=clock)
    calls = []

    def decode():  # 30 ms of 100 W work per call
        calls.append(1)
        clock.sleep(0.03)

    result = measure_repeated(decode, meter, min_seconds=1.0, warmup=2, clock=clock)
    assert result.calls == 34  # first call count reaching >= 1 s: ceil(1 / 0.03)
    assert len(calls) == 34 + 2  # warm-up calls are not measured
    assert result.gross_j_per_call == pytest.approx(3.0)  # 100 W x 30 ms
    assert result.net_j_per_call == pytest.approx(3.0 - 40.0 * 0.03)
    assert result.seconds_per_call == pytest.approx(0.03)


def test_idle_power_is_the_time_weighted_mean():
    clock = FakeClock()
    nvml = FakeNvml(clock, power_w=55.0)
    assert measure_idle_power(fake_device(nvml), seconds=0.5, interval_s=0.1, clock=clock, sleep=clock.sleep) == pytest.approx(55.0)


# ------------------------------------------------------------------------------------ sampling
def test_sampling_fallback_when_the_counter_is_unsupported():
    clock = FakeClock()
    nvml = FakeNvml(clock, power_w=80.0, counter=False)
    device = fake_device(nvml)
    assert not device.counter_supported and device.power_supported
    meter = EnergyMeter(device, idle_w=30.0)
    assert meter.mode == "sampling"
    meter.start()
    time.sleep(0.15)
    reading = meter.stop()
    # constant 80 W: the integral over the samples is 80 W x their time span (real clock)
    assert reading.gross_j == pytest.approx(80.0 * reading.seconds, rel=0.1)
    assert reading.net_j == pytest.approx(50.0 * reading.seconds, rel=0.1)


def test_power_sampler_integrates_samples():
    clock = FakeClock()
    nvml = FakeNvml(clock, power_w=20.0)
    sampler = PowerSampler(fake_device(nvml), interval_s=0.005)
    sampler.start()
    time.sleep(0.05)
    joules = sampler.stop()
    assert len(sampler.samples) >= 3
    span = sampler.samples[-1][0] - sampler.samples[0][0]
    assert joules == pytest.approx(20.0 * span)


# -------------------------------------------------------------------------------- availability
def test_nvml_that_does_not_initialise_gives_a_reason():
    clock = FakeClock()
    with pytest.raises(EnergyUnavailable, match="NVML could not be initialised: Driver Not Loaded"):
        open_nvml_device(0, FakeNvml(clock, init_error="Driver Not Loaded"))


def test_real_pynvml_opens_or_gives_a_one_line_reason():
    # without an NVIDIA driver (this CPU machine) nvmlInit fails and the reason is one line
    try:
        device = open_nvml_device(0)
    except EnergyUnavailable as exc:
        assert str(exc) and "\n" not in str(exc)
    else:  # a GPU machine
        assert device.counter_supported or device.power_supported
