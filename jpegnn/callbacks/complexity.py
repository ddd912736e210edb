"""ComplexityCallback: parameters and fvcore MACs of any LightningModule, logged once per run.

Example (YAML, under ``trainer.callbacks``)::

    - class_path: jpegnn.callbacks.ComplexityCallback
      init_args:
        input_size: 768x512

At the start of ``fit``, ``test``, ``validate`` or ``predict`` (the first one only, with
``log_once``), rank zero computes :func:`jpegnn.profiling.complexity.complexity_report` on a
``1 x 3 x 512 x 768`` input and

* logs scalars ``complexity/params``, ``complexity/params_mb_fp32`` (float32 MB, 10**6 bytes),
  ``complexity/gmacs_<side>`` and ``complexity/kmacs_per_pixel_<side>`` for each side
  (``encoder``/``decoder``, or ``forward`` for modules without sides);
* adds the per-part table to TensorBoard's text tab (``complexity``) and the Python log;
* writes ``complexity.json`` atomically into the run's log folder.

MACs are fvcore's count (1 fused multiply-add = 1 MAC); what each side includes is in the
report's ``definitions`` (for CompressAI models: :mod:`jpegnn.profiling.lic`). The module is
put in eval mode for the count and its training flags are restored afterwards. A failure to
count (an untraceable custom module) is logged as a warning and does not stop the run.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn

from jpegnn.callbacks._common import log_scalars, log_text, run_dir, write_json_rank_zero
from jpegnn.profiling.complexity import complexity_markdown, complexity_report, complexity_text
from jpegnn.profiling.inputs import parse_size

log = logging.getLogger(__name__)

__all__ = ["ComplexityCallback"]


class ComplexityCallback(Callback):
    """Log parameter counts and MACs (encoder/decoder sides apart) once, and write complexity.json.

    Args:
        input_size: ``WIDTHxHEIGHT`` of the input the MACs are counted for (pixels).
        log_once: Only at the first stage start of this callback (else at every one).
        channels: Input channels.
        filename: Report file name inside the run's log folder.
    """

    def __init__(self, input_size: str = "768x512", log_once: bool = True, channels: int = 3,
                 filename: str = "complexity.json") -> None:
        self.size = parse_size(input_size)
        self.log_once = log_once
        self.channels = int(channels)
        self.filename = filename
        self.report: Optional[dict[str, Any]] = None  # set on rank zero
        self._done = False  # set on every rank (keeps the collective run_dir call symmetric)

    def _measure(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._done and self.log_once:
            return
        self._done = True
        out = run_dir(trainer) / self.filename  # collective: every rank
        if not trainer.is_global_zero:
            return
        try:
            report = complexity_report(pl_module, self.size, channels=self.channels)
        except Exception as exc:  # noqa: BLE001 - measurement must never stop a run
            log.warning("complexity unavailable: %s: %s", type(exc).__name__, exc)
            return
        self.report = report
        sides = list(report["macs"])
        metrics = {"complexity/params": report["params"], "complexity/params_mb_fp32": report["params_mb_fp32"]}
        for side in sides:
            metrics[f"complexity/gmacs_{side}"] = report["gmacs"][side]
            metrics[f"complexity/kmacs_per_pixel_{side}"] = report["kmacs_per_pixel"][side]
        log_scalars(trainer, metrics)
        log_text(trainer, "complexity", complexity_markdown(report))
        log.info("model complexity at %s:\n%s", report["input"]["size"], complexity_text(report))
        write_json_rank_zero(trainer, out, report)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._measure(trainer, pl_module)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._measure(trainer, pl_module)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._measure(trainer, pl_module)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == TrainerFn.VALIDATING:  # `jpegnn validate`, not fit's validation
            self._measure(trainer, pl_module)
