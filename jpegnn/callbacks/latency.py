"""LatencyCallback: training step timing and encode/decode latency of any LightningModule.

Example (YAML, under ``trainer.callbacks``)::

    - class_path: jpegnn.callbacks.LatencyCallback
      init_args:
        every_n_steps: 100
        input_size: 768x512

**Training** (every rank times its own device, the loggers show rank zero's): on sampled
batches (the ``skip_first_steps``-th batch, then every ``every_n_steps`` batches) the device is
synchronised at four points and the wall time between them logged in milliseconds:

* ``latency/train_forward_ms``: batch start (after the transfer to the device) to the first
  backward call, i.e. the forward pass and loss;
* ``latency/train_backward_ms``: inside ``backward`` calls (all of them when a step has several);
* ``latency/train_step_ms``: batch start to batch end (forward, backward, optimizer steps).

Synchronising costs a little; unsampled batches are untouched.

**Codec** (rank zero, after ``fit`` and after ``test``): the module's encode and decode
(:func:`jpegnn.profiling.workloads.resolve_coding`: for CompressAI models the real codec with
rANS entropy coding, on a copy of the network) are timed on a deterministic synthetic image of
``input_size`` (:func:`jpegnn.profiling.inputs.synthetic_image`): ``warmup`` untimed calls, then
the median of ``repeats`` synchronised calls, logged as ``latency/encode_ms`` and
``latency/decode_ms`` (or ``latency/forward_ms`` for modules without a codec).

Each codec result notes the device and ``cpu_threads`` (``torch.get_num_threads()``), on which
CPU latency depends. Results (with the medians of the sampled training timings) are written to ``latency.json`` in
the run's log folder on rank zero.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any, Optional

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from jpegnn.callbacks._common import log_scalars, log_text, run_dir, write_json_rank_zero
from jpegnn.profiling.inputs import format_size, parse_size, synthetic_image
from jpegnn.profiling.modes import eval_mode
from jpegnn.profiling.tables import markdown_table
from jpegnn.profiling.timing import synchronize, time_callable
from jpegnn.profiling.workloads import resolve_coding

log = logging.getLogger(__name__)

__all__ = ["LatencyCallback"]


class LatencyCallback(Callback):
    """Time forward/backward during training (sampled) and encode/decode after fit and test.

    Args:
        input_size: ``WIDTHxHEIGHT`` of the synthetic image the codec is timed on.
        every_n_steps: Sample one training batch in this many.
        skip_first_steps: Training batches before the first sample (the first batches include
            one-off costs: cuDNN autotuning, optimizer-state allocation).
        warmup: Untimed codec calls before timing.
        repeats: Timed codec calls (the median is reported).
        measure_coding: Time the codec after fit and test.
        filename: Results file inside the run's log folder.
    """

    def __init__(
        self,
        input_size: str = "768x512",
        every_n_steps: int = 50,
        skip_first_steps: int = 1,
        warmup: int = 1,
        repeats: int = 5,
        measure_coding: bool = True,
        filename: str = "latency.json",
    ) -> None:
        self.size = parse_size(input_size)
        self.every_n_steps = max(int(every_n_steps), 1)
        self.skip_first_steps = max(int(skip_first_steps), 0)
        self.warmup, self.repeats = int(warmup), int(repeats)
        self.measure_coding = measure_coding
        self.filename = filename
        self.results: dict[str, Any] = {"train_samples": []}
        self._batches = 0
        self._sampled = False
        self._t_start = self._t_forward_end = self._t_backward_start = None
        self._backward_s = 0.0

    # ------------------------------------------------------------------ training (all ranks)
    def _sync(self, pl_module: LightningModule) -> float:
        synchronize(pl_module.device)
        return time.perf_counter()

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        k = self._batches
        self._batches += 1
        self._sampled = k >= self.skip_first_steps and (k - self.skip_first_steps) % self.every_n_steps == 0
        if self._sampled:
            self._t_forward_end = None
            self._backward_s = 0.0
            self._t_start = self._sync(pl_module)

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: Tensor) -> None:
        if not self._sampled:
            return
        now = self._sync(pl_module)
        if self._t_forward_end is None:
            self._t_forward_end = now
        self._t_backward_start = now

    def on_after_backward(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._sampled or self._t_backward_start is None:
            return
        self._backward_s += self._sync(pl_module) - self._t_backward_start
        self._t_backward_start = None

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self._sampled:
            return
        self._sampled = False
        end = self._sync(pl_module)
        sample = {
            "step": trainer.global_step,
            "train_step_ms": (end - self._t_start) * 1e3,
            "train_forward_ms": None if self._t_forward_end is None else (self._t_forward_end - self._t_start) * 1e3,
            "train_backward_ms": None if self._t_forward_end is None else self._backward_s * 1e3,
        }
        self.results["train_samples"].append(sample)
        log_scalars(trainer, {f"latency/{k}": v for k, v in sample.items() if k != "step"})

    def _train_summary(self) -> dict[str, Optional[float]]:
        samples = self.results["train_samples"]
        out: dict[str, Optional[float]] = {"train_sampled_batches": len(samples)}
        for key in ("train_forward_ms", "train_backward_ms", "train_step_ms"):
            values = [s[key] for s in samples if s[key] is not None]
            out[f"median_{key}"] = statistics.median(values) if values else None
        return out

    # ------------------------------------------------------------------ codec (rank zero)
    def _measure_coding(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        out = run_dir(trainer) / self.filename  # collective: every rank
        if not trainer.is_global_zero:
            return
        result: dict[str, Any] = {"image": f"synthetic {format_size(self.size)} (seed 0)",
                                  "device": str(pl_module.device), "cpu_threads": torch.get_num_threads()}
        if self.measure_coding:
            try:
                x = synthetic_image(*self.size, device=pl_module.device)
                with eval_mode(pl_module):
                    coding, description = resolve_coding(pl_module, x)
                    result["coding"] = description
                    for side, fn in coding.items():
                        stats = time_callable(fn, pl_module.device, repeats=self.repeats, warmup=self.warmup)
                        result[f"{side}_ms"] = stats.median_ms
                        result[f"{side}_timing"] = stats.to_dict()
            except Exception as exc:  # noqa: BLE001 - measurement must never stop a run
                log.warning("codec latency unavailable: %s: %s", type(exc).__name__, exc)
                result["error"] = f"{type(exc).__name__}: {exc}"
        self.results[stage] = result
        medians = {f"latency/{k}": v for k, v in result.items() if k.endswith("_ms")}
        log_scalars(trainer, medians)
        rows = [[k.removeprefix("latency/"), v] for k, v in medians.items()]
        if stage == "fit":
            summary = self._train_summary()
            self.results["train"] = summary
            rows += [[k, v] for k, v in summary.items() if k.startswith("median_")]
        if rows:
            log_text(trainer, f"latency/{stage}", markdown_table(["measure", "ms"], rows)
                     + f"\n\ncodec: {result.get('coding', 'not measured')}; {result['image']}; median of {self.repeats}")
        log.info("latency after %s: %s", stage, {k: round(v, 3) for k, v in medians.items()})
        write_json_rank_zero(trainer, out, {"input_size": format_size(self.size), **self.results})

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._measure_coding(trainer, pl_module, "fit")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._measure_coding(trainer, pl_module, "test")
