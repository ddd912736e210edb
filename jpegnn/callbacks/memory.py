"""MemoryCallback: parameter storage and peak memory of any LightningModule, torchsummary-style.

Example (YAML, under ``trainer.callbacks``)::

    - class_path: jpegnn.callbacks.MemoryCallback
      init_args:
        every_n_steps: 100

Units: bytes and MB = 10**6 bytes.

* At fit/test start (rank zero): a table of parameters per part (as
  :func:`jpegnn.profiling.workloads.resolve_parts` names them) with their float32 MB, total and
  trainable parameters, parameter and buffer bytes at the held dtypes; logged to TensorBoard's
  text tab (``memory/parameters``) and as ``memory/params_mb_fp32``, ``memory/buffer_mb``.
* Training, on sampled batches (every rank measures its own device; loggers show rank zero's):

  - on CUDA, ``torch.cuda.reset_peak_memory_stats`` at batch start and
    ``torch.cuda.max_memory_allocated`` at batch end: ``memory/train_peak_allocated_mb`` and
    ``memory/train_activation_peak_mb`` (the peak minus what was allocated at batch start:
    weights, gradients and optimizer states are excluded, activations and workspaces remain);
  - on CPU, ``memory/process_peak_rss_mb``: the process-wide peak resident set size
    (``resource.getrusage``), which includes everything the process ever held.

* Test: the same over the whole test loop (``memory/test_peak_allocated_mb`` and
  ``memory/test_activation_peak_mb``, or the process peak RSS on CPU).

Results are written to ``memory.json`` in the run's log folder on rank zero. Resetting CUDA
peak statistics affects other code reading them during the sampled batches.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from lightning.pytorch import Callback, LightningModule, Trainer

from jpegnn.callbacks._common import log_scalars, log_text, run_dir, write_json_rank_zero
from jpegnn.profiling.memory import MB, PeakMemory, PeakMemoryResult
from jpegnn.profiling.params import count_parameters, part_parameters
from jpegnn.profiling.tables import markdown_table, text_table
from jpegnn.profiling.workloads import resolve_parts

log = logging.getLogger(__name__)

__all__ = ["MemoryCallback"]


def _memory_metrics(prefix: str, result: PeakMemoryResult) -> dict[str, Optional[float]]:
    if result.kind == "cuda_max_allocated":
        return {
            f"memory/{prefix}_peak_allocated_mb": result.peak_bytes / MB,
            f"memory/{prefix}_activation_peak_mb": result.increase_bytes / MB,
            f"memory/{prefix}_peak_reserved_mb": result.peak_reserved_bytes / MB,
        }
    return {"memory/process_peak_rss_mb": None if result.peak_bytes is None else result.peak_bytes / MB}


class MemoryCallback(Callback):
    """Log parameter storage, and peak memory of sampled training batches and of the test loop.

    Args:
        every_n_steps: Sample one training batch in this many.
        skip_first_steps: Training batches before the first sample (the first step allocates
            optimizer states, which would be counted as activations).
        filename: Results file inside the run's log folder.
    """

    def __init__(self, every_n_steps: int = 50, skip_first_steps: int = 1, filename: str = "memory.json") -> None:
        self.every_n_steps = max(int(every_n_steps), 1)
        self.skip_first_steps = max(int(skip_first_steps), 0)
        self.filename = filename
        self.results: dict[str, Any] = {"train_samples": []}
        self._batches = 0
        self._probe: Optional[PeakMemory] = None
        self._test_probe: Optional[PeakMemory] = None
        self._summarised = False

    # ------------------------------------------------------------------ parameters (rank zero)
    def _summarise_parameters(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._summarised:
            return
        self._summarised = True
        if not trainer.is_global_zero:
            return
        totals = count_parameters(pl_module)
        parts = part_parameters(resolve_parts(pl_module))
        self.results["parameters"] = {**totals, "parts": parts}
        rows = [[name, p["params"], p["params_mb_fp32"]] for name, p in parts.items()]
        rows += [
            ["total params", totals["params"], totals["params_mb_fp32"]],
            ["trainable params", totals["trainable_params"], totals["trainable_params"] * 4 / MB],
            ["non-trainable params", totals["params"] - totals["trainable_params"], None],
            ["param storage (held dtypes)", None, totals["param_bytes"] / MB],
            ["buffers (held dtypes)", None, totals["buffer_bytes"] / MB],
        ]
        headers = ["", "params", "MB"]
        log_text(trainer, "memory/parameters", markdown_table(headers, rows) + "\n\nMB = 10^6 bytes; parts as float32")
        log_scalars(trainer, {"memory/params_mb_fp32": totals["params_mb_fp32"], "memory/buffer_mb": totals["buffer_bytes"] / MB})
        log.info("parameters:\n%s", text_table(headers, rows))

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._summarise_parameters(trainer, pl_module)

    # ------------------------------------------------------------------ training (all ranks)
    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        k = self._batches
        self._batches += 1
        if k >= self.skip_first_steps and (k - self.skip_first_steps) % self.every_n_steps == 0:
            self._probe = PeakMemory(pl_module.device)
            self._probe.start()

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._probe is None:
            return
        result = self._probe.stop()
        self._probe = None
        self.results["train_samples"].append({"step": trainer.global_step, **result.to_dict()})
        log_scalars(trainer, _memory_metrics("train", result))

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        out = run_dir(trainer) / self.filename  # collective: every rank
        samples = self.results["train_samples"]
        if samples:
            self.results["train_max_peak_mb"] = max((s["peak_mb"] or 0.0) for s in samples)
            self.results["train_memory_kind"] = samples[-1]["kind"]
        write_json_rank_zero(trainer, out, self.results)

    # ------------------------------------------------------------------ test (all ranks)
    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._summarise_parameters(trainer, pl_module)
        self._test_probe = PeakMemory(pl_module.device)
        self._test_probe.start()

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        out = run_dir(trainer) / self.filename  # collective: every rank
        if self._test_probe is None:
            return
        result = self._test_probe.stop()
        self._test_probe = None
        self.results["test"] = result.to_dict()
        metrics = _memory_metrics("test", result)
        log_scalars(trainer, metrics)
        log.info("test memory: %s", {k: round(v, 2) for k, v in metrics.items() if v is not None})
        write_json_rank_zero(trainer, out, self.results)
