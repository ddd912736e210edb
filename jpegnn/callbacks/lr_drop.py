"""Learning-rate drops at fixed training steps, on top of whatever scheduler the module has.

Papers and CompressAI-style recipes end training with a step drop of the learning rate (e.g. 1e-4
to 1e-5 for the last fraction of the steps); a run that is resumed across sessions needs the drop
to be a function of the step, not of the process. :class:`LearningRateDrop` is that: after
``milestones[i]`` optimizer steps the network learning rate is at most ``lrs[i]``.

It *caps* the learning rate rather than multiplying it, so it is idempotent and resume-safe: the
same callback on a run resumed from ``last.ckpt`` (whose optimizer state already carries the
lowered lr) changes nothing, and a ``ReduceLROnPlateau`` the module also has keeps working below the
cap (it reads the current lr from the optimizer). Only the optimizer at ``optimizer_index`` is
touched (0: the network optimizer of :class:`~jpegnn.tasks.LICModule`; the aux optimizer of the
entropy-bottleneck quantiles keeps its own lr, as in CompressAI's ``examples/train.py``).

YAML (``trainer.callbacks``)::

    - class_path: jpegnn.callbacks.LearningRateDrop
      init_args: {milestones: [25000], lrs: [1.0e-4]}

or on the command line: ``--trainer.callbacks+=jpegnn.callbacks.LearningRateDrop
--trainer.callbacks.milestones=[25000] --trainer.callbacks.lrs=[1e-4]``.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Sequence

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info

from jpegnn.errors import ConfigError

__all__ = ["LearningRateDrop"]


class LearningRateDrop(Callback):
    """Cap the learning rate at ``lrs[i]`` from global step ``milestones[i]`` on.

    Args:
        milestones: Global steps (``trainer.global_step``, i.e. network optimizer steps), strictly
            increasing, at least 0.
        lrs: Learning rate cap from each milestone on (same length, positive, non-increasing).
        optimizer_index: Which of ``trainer.optimizers`` to cap (default 0, the network's).

    Raises:
        ConfigError: Lengths differ, milestones not increasing, or lrs not positive and
            non-increasing (each message names the argument).
    """

    def __init__(self, milestones: Sequence[int], lrs: Sequence[float], optimizer_index: int = 0) -> None:
        super().__init__()
        milestones = [int(m) for m in milestones]
        lrs = [float(v) for v in lrs]
        if not milestones or len(milestones) != len(lrs):
            raise ConfigError(
                f"LearningRateDrop: milestones and lrs must be non-empty lists of the same length, "
                f"got {len(milestones)} milestones and {len(lrs)} lrs"
            )
        if milestones[0] < 0 or any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ConfigError(f"LearningRateDrop: milestones must be >= 0 and strictly increasing, got {milestones}")
        if any(not (math.isfinite(v) and v > 0) for v in lrs) or any(b > a for a, b in zip(lrs, lrs[1:])):
            raise ConfigError(f"LearningRateDrop: lrs must be positive and non-increasing, got {lrs}")
        if optimizer_index < 0:
            raise ConfigError(f"LearningRateDrop: optimizer_index must be >= 0, got {optimizer_index}")
        self.milestones = milestones
        self.lrs = lrs
        self.optimizer_index = int(optimizer_index)
        self._announced: set[float] = set()

    def cap_at(self, step: int) -> float | None:
        """The lr cap in force at global step ``step`` (None before the first milestone)."""
        passed = bisect.bisect_right(self.milestones, step)  # milestones <= step
        return self.lrs[passed - 1] if passed else None

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        cap = self.cap_at(trainer.global_step)
        if cap is None:
            return
        if self.optimizer_index >= len(trainer.optimizers):
            raise ConfigError(
                f"LearningRateDrop: optimizer_index {self.optimizer_index} but the module has "
                f"{len(trainer.optimizers)} optimizer(s)"
            )
        lowered = False
        for group in trainer.optimizers[self.optimizer_index].param_groups:
            if group["lr"] > cap:
                group["lr"] = cap
                lowered = True
        if lowered and cap not in self._announced:
            self._announced.add(cap)
            rank_zero_info(f"LearningRateDrop: network lr capped at {cap:g} from step {trainer.global_step}")
