"""EnergyCallback: GPU energy (NVML) of training epochs, test images and decoded frames.

Example (YAML, under ``trainer.callbacks``)::

    - class_path: jpegnn.callbacks.EnergyCallback
      init_args:
        min_seconds: 1.0

Units: joules (J), watts (W). All figures are GPU board energy from NVML (see
:mod:`jpegnn.profiling.energy`): CPU and DRAM energy are not included.

* **Availability** is decided once, at ``setup``, on every rank: the run must use CUDA and NVML
  must open the rank's GPU with an energy counter or power readings. The ranks agree through
  one all-reduce; if any rank cannot measure, rank zero logs ``energy unavailable: <reason>``
  once and the callback does nothing else (the run carries on).
* **Idle power** is sampled for ``idle_seconds`` before the first measurement of each process
  (``nvmlDeviceGetPowerUsage``) and subtracted from every figure: ``net = gross - idle x time``.
* **Training**: the counter is read at the start and end of each training epoch, with
  validation excluded. Logged per epoch: ``energy/train_epoch_j`` (net, all GPUs summed),
  ``energy/train_epoch_gross_j`` and ``energy/train_j_per_image`` (net J over the images all
  ranks trained on).
* **Test**: one measurement over the whole test loop (per-batch readings would sit at the
  counter's 20-100 ms granularity): ``energy/test_j_per_image``. Then, on the first test image,
  the decoder alone, repeated until ``min_seconds`` have passed: ``energy/decode_j_per_frame``
  (the module's real decode, :func:`jpegnn.profiling.workloads.resolve_coding`, for CompressAI
  models rANS entropy decoding included) and ``energy/decoder_network_j_per_frame`` (the decoder
  networks only, ``complexity_functions``). Per-frame figures are all ranks' joules over all
  ranks' frames.
* Where the energy counter is unsupported, a background thread samples power every
  ``sample_interval_s`` and integrates it (logged ``energy/mode``: 1 counter, 0 sampling).

Every rank measures its own GPU and takes part in the same all-reduces (no collective sits behind
a rank guard); rank zero logs and writes ``energy.json`` into the run's log folder.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from jpegnn.callbacks._common import batch_size_of, ddp_sum, first_image_of, log_scalars, log_text, run_dir, write_json_rank_zero
from jpegnn.profiling.energy import (
    EnergyMeter,
    EnergyUnavailable,
    NvmlDevice,
    measure_idle_power,
    measure_repeated,
    open_nvml_device,
    sum_across_ranks,
)
from jpegnn.profiling.modes import eval_mode
from jpegnn.profiling.tables import markdown_table
from jpegnn.profiling.timing import synchronize
from jpegnn.profiling.workloads import resolve_coding, resolve_functions

log = logging.getLogger(__name__)

__all__ = ["EnergyCallback"]


class EnergyCallback(Callback):
    """Measure GPU energy per training epoch, per test image and per decoded frame (NVML).

    Args:
        idle_seconds: Idle-power sampling window (s).
        min_seconds: Minimum wall time of each repeated decoder measurement (s); at least ten
            times the counter's 20-100 ms granularity.
        sample_interval_s: Power sampling period where the energy counter is unsupported (s).
        measure_decoder: Measure the decoder alone after the test loop.
        filename: Results file inside the run's log folder.
    """

    def __init__(
        self,
        idle_seconds: float = 1.0,
        min_seconds: float = 1.0,
        sample_interval_s: float = 0.01,
        measure_decoder: bool = True,
        filename: str = "energy.json",
    ) -> None:
        self.idle_seconds = float(idle_seconds)
        self.min_seconds = float(min_seconds)
        self.sample_interval_s = float(sample_interval_s)
        self.measure_decoder = measure_decoder
        self.filename = filename
        self.available: Optional[bool] = None  # decided at the first setup, identical on all ranks
        self.reason: Optional[str] = None
        self.results: dict[str, Any] = {"train_epochs": []}
        self._gpu: Optional[NvmlDevice] = None
        self._idle_w: Optional[float] = None
        self._meter: Optional[EnergyMeter] = None
        self._paused = False
        self._images = 0
        self._first_image: Optional[torch.Tensor] = None

    # ------------------------------------------------------------------ availability
    def _open_device(self, device: torch.device) -> NvmlDevice:
        """The NVML device of this rank's GPU (raises EnergyUnavailable with the reason)."""
        if device.type != "cuda":
            raise EnergyUnavailable(f"no CUDA device (the run uses {device.type})")
        index = device.index if device.index is not None else torch.cuda.current_device()
        return open_nvml_device(index)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.available is not None:
            return
        try:
            self._gpu = self._open_device(trainer.strategy.root_device)
            reason = None
        except EnergyUnavailable as exc:
            reason = str(exc)
        # every rank reaches this all-reduce exactly once
        everywhere = trainer.strategy.reduce_boolean_decision(reason is None, all=True)
        self.available = bool(everywhere)
        if not self.available:
            self.reason = reason or "NVML energy is not available on every rank"
            self._gpu = None
            if trainer.is_global_zero:
                log.warning("energy unavailable: %s", self.reason)
            self.results = {"available": False, "reason": self.reason}

    def _ensure_idle(self, pl_module: LightningModule) -> None:
        if self._idle_w is not None or self._gpu is None:
            return
        synchronize(pl_module.device)
        self._idle_w = measure_idle_power(self._gpu, self.idle_seconds) if self._gpu.power_supported else None
        self.results["idle_w"] = self._idle_w
        self.results["mode"] = "counter" if self._gpu.counter_supported else "sampling"

    def _new_meter(self) -> EnergyMeter:
        return EnergyMeter(self._gpu, idle_w=self._idle_w, interval_s=self.sample_interval_s)

    def _stop(self, pl_module: LightningModule) -> None:
        """Close the running segment; a bad reading marks the meter's result NaN (never raises)."""
        synchronize(pl_module.device)
        try:
            self._meter.stop()
        except EnergyUnavailable as exc:
            log.warning("energy reading discarded: %s", exc)
            self._meter.gross_j = math.nan

    def _reduce(self, trainer: Trainer, values: list[float]) -> list[float]:
        return sum_across_ranks(values, lambda v: ddp_sum(trainer, v))

    # ------------------------------------------------------------------ training
    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.available:
            self._ensure_idle(pl_module)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.available:
            return
        self._meter = self._new_meter()
        self._images = 0
        self._paused = False
        synchronize(pl_module.device)
        self._meter.start()

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.available and self._meter is not None:
            self._images += batch_size_of(batch)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # only fit's validation can interrupt a running (training-epoch) segment
        if self.available and self._meter is not None and self._meter.running:
            self._stop(pl_module)
            self._paused = True

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.available and self._paused and self._meter is not None:
            self._paused = False
            synchronize(pl_module.device)
            self._meter.start()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.available or self._meter is None:
            return
        self._stop(pl_module)
        reading = self._meter.reading()
        gross, net, images = self._reduce(trainer, [reading.gross_j, reading.net_j, float(self._images)])
        epoch = {
            "epoch": trainer.current_epoch,
            "gross_j": gross,
            "net_j": net,
            "images": int(images),
            "seconds_rank0": reading.seconds,
            "j_per_image": net / images if images else None,
        }
        self.results["train_epochs"].append(epoch)
        log_scalars(trainer, {
            "energy/train_epoch_j": _finite(net),
            "energy/train_epoch_gross_j": _finite(gross),
            "energy/train_j_per_image": _finite(epoch["j_per_image"]),
            "energy/mode": 1.0 if self._meter.mode == "counter" else 0.0,
        })
        self._meter = None

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        out = run_dir(trainer) / self.filename  # collective: every rank
        write_json_rank_zero(trainer, out, self.results)

    # ------------------------------------------------------------------ test
    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.available:
            self._ensure_idle(pl_module)

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.available:
            return
        self._meter = self._new_meter()
        self._images = 0
        self._first_image = None
        synchronize(pl_module.device)
        self._meter.start()

    def on_test_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        if not self.available or self._meter is None:
            return
        self._images += batch_size_of(batch)
        if self._first_image is None:
            self._first_image = first_image_of(batch)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self.available or self._meter is None:
            return
        self._stop(pl_module)
        reading = self._meter.reading()
        self._meter = None
        gross, net, images = self._reduce(trainer, [reading.gross_j, reading.net_j, float(self._images)])
        test = {"gross_j": gross, "net_j": net, "images": int(images), "seconds_rank0": reading.seconds,
                "j_per_image": net / images if images else None}
        metrics = {"energy/test_j_per_image": test["j_per_image"]}
        if self.measure_decoder:
            decoder = self._measure_decoder(trainer, pl_module)
            test.update(decoder)
            metrics.update({f"energy/{k}": v for k, v in decoder.items() if k.endswith("_j_per_frame")})
        self.results["test"] = test
        log_scalars(trainer, {k: _finite(v) for k, v in metrics.items()})
        rows = [[k.removeprefix("energy/"), v] for k, v in metrics.items()]
        log_text(trainer, "energy/test", markdown_table(["measure", "J"], rows)
                 + f"\n\nGPU energy above idle ({self._idle_w} W), all GPUs summed; NVML {self.results.get('mode')}")

    def _measure_decoder(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Any]:
        """Decoder-alone energy on the first test image; every rank takes part in the reduces."""
        has_image = trainer.strategy.reduce_boolean_decision(self._first_image is not None, all=True)
        if not has_image:
            return {}
        x = self._first_image.to(pl_module.device)
        out: dict[str, Any] = {}
        with eval_mode(pl_module):
            coding, _ = resolve_coding(pl_module, x)
            workloads = {"decode": coding.get("decode"), "decoder_network": resolve_functions(pl_module, x).get("decoder")}
            for key, fn in workloads.items():
                if fn is None:  # identical on every rank: same module type
                    continue
                try:
                    result = measure_repeated(fn, self._new_meter(), min_seconds=self.min_seconds,
                                              sync=lambda: synchronize(pl_module.device))
                    local = [result.reading.net_j, float(result.calls)]
                    out[f"{key}_detail_rank0"] = result.to_dict()
                except EnergyUnavailable as exc:
                    log.warning("decoder energy reading discarded: %s", exc)
                    local = [math.nan, 0.0]
                joules, frames = self._reduce(trainer, local)
                out[f"{key}_j_per_frame"] = joules / frames if frames and math.isfinite(joules) else None
        return out

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        out = run_dir(trainer) / self.filename  # collective: every rank
        write_json_rank_zero(trainer, out, self.results)


def _finite(value: Optional[float]) -> Optional[float]:
    return value if value is not None and math.isfinite(value) else None
