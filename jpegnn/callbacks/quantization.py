"""QuantizationCallback: train or evaluate any LightningModule in simulated low precision.

Example (YAML, composed with a model config:
``jpegnn fit --config model.yaml --config configs/quant/e5m2_nearest.yaml``)::

    trainer:
      callbacks:
        - class_path: jpegnn.callbacks.quantization.QuantizationCallback
          init_args:
            weight: float:e5m2:nearest
            activation: float:e5m2:nearest
            gradient: float:e5m2:nearest
            layer_types: [Conv2d, Linear]

At ``setup`` (every stage: fit, validate, test, predict) the callback calls
:func:`jpegnn.quant.wrap.quantize_model` on the LightningModule: weights of the selected layers are
quantized on a copy in a forward pre-hook (the optimizer keeps full-precision master weights, and
checkpoints hold them), their outputs (activations) in a forward hook, and the gradients flowing
back into them by a tensor hook. Formats are spec strings (:mod:`jpegnn.quant.spec`):
``"float:e<E>m<M>[:nearest|stochastic][:saturate]"``, ``"fixed:<WL>.<FL>[:rounding]"``,
``"fp16"``, ``"bf16"`` or ``"none"``; a malformed one raises :class:`jpegnn.errors.ConfigError`
when the callback is built. The hooks come off at ``teardown``. The formats are also written into
each checkpoint under ``"quantization"`` so a run's precision can be read back from it, and the
callback's state (formats, the seeded stochastic-rounding generator) resumes with ``--ckpt_path``:
the draws continue where they stopped, and other formats than the checkpoint's give a warning.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

from jpegnn.errors import ConfigError
from jpegnn.quant.spec import parse_format
from jpegnn.quant.wrap import DEFAULT_LAYER_TYPES, QuantizationHandle, quantize_model

log = logging.getLogger(__name__)

__all__ = ["QuantizationCallback"]


class QuantizationCallback(Callback):
    """Simulated low-precision weights/activations/gradients for the selected layer types.

    Args:
        weight: format of the layers' parameters (quantized copies; master weights stay full precision).
        activation: format of the layers' outputs.
        gradient: format of the gradients flowing back into the layers' outputs.
        layer_types: class names of the layers to quantize (a module matches when its class or a
            base class has one of these names), default ``["Conv2d", "Linear"]``.
        seed: seed of a dedicated :class:`torch.Generator` (on the trainer's device, created at
            ``setup``) for stochastic rounding, so the draws are reproducible and do not consume the
            global RNG: runs that differ only in rounding mode then see the same data order,
            augmentations and dropout masks. ``None`` (default) draws from the global RNG.
    """

    def __init__(
        self,
        weight: Optional[str] = "none",
        activation: Optional[str] = "none",
        gradient: Optional[str] = "none",
        layer_types: Optional[Sequence[str]] = None,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.weight = parse_format(weight, "weight")
        self.activation = parse_format(activation, "activation")
        self.gradient = parse_format(gradient, "gradient")
        if isinstance(layer_types, str):
            layer_types = [layer_types]
        self.layer_types = list(DEFAULT_LAYER_TYPES if layer_types is None else layer_types)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"seed: expected an integer or null, got {seed!r}")
        self.seed = seed
        self.handle: Optional[QuantizationHandle] = None
        self._generator: Optional[torch.Generator] = None

    def formats(self) -> dict[str, Any]:
        """The configuration as plain strings (``"none"`` when unset)."""
        return {
            "weight": str(self.weight) if self.weight else "none",
            "activation": str(self.activation) if self.activation else "none",
            "gradient": str(self.gradient) if self.gradient else "none",
            "layer_types": list(self.layer_types),
            "seed": self.seed,
        }

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.handle is not None:  # fit then test on the same trainer: hooks already in place
            return
        generator = None
        if self.seed is not None:
            # the model is moved to the device after setup: use the strategy's device
            generator = torch.Generator(device=trainer.strategy.root_device).manual_seed(self.seed)
        self._generator = generator
        self.handle = quantize_model(
            pl_module, self.weight, self.activation, self.gradient, layer_types=self.layer_types,
            generator=generator,
        )
        log.info("quantization: %s", self.handle.describe())

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict) -> None:
        checkpoint["quantization"] = self.formats()

    def state_dict(self) -> dict[str, Any]:
        """Saved with every checkpoint: the formats, and the stochastic-rounding generator's state
        (a uint8 tensor) so that a resumed run continues the same draws."""
        state: dict[str, Any] = {"formats": self.formats()}
        if self._generator is not None:
            state["generator_state"] = self._generator.get_state()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume (``fit --ckpt_path``, after ``setup``): continue the saved generator's draws, and
        warn once when the run was trained in other formats (allowed: e.g. a low-precision phase
        after full-precision training, but never silent)."""
        saved = state_dict.get("formats")
        if saved is not None and saved != self.formats():
            changed = ", ".join(f"{k} {saved.get(k)!r} -> {v!r}" for k, v in self.formats().items() if saved.get(k) != v)
            rank_zero_warn(f"QuantizationCallback: resuming a checkpoint trained with other formats ({changed})")
        generator_state = state_dict.get("generator_state")
        if self._generator is not None and generator_state is not None:
            if saved is not None and saved.get("seed") == self.seed:
                self._generator.set_state(generator_state)
