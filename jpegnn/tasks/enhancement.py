"""EnhancementModule: training and evaluation of a post-decoding filter (issue 7).

The network is a plain :class:`jpegnn.models.enhance.RDN`; the (original, decoded) pairs are made
on the fly by a codec (:mod:`jpegnn.enhance.degradations`) from the batches of any DataModule
yielding ``{"image", "name"}`` (e.g. :class:`jpegnn.data.ImageDataModule`), in
:meth:`EnhancementModule.on_after_batch_transfer`: after cropping, so each decoded patch is the
codec's output for exactly that patch. This module holds the training logic only:

* ``"ctu"`` mode: each training patch gives one random 132x132 luma CTU (BT.601 Y of the decoded
  patch, 128 + 2 x 2 context) and its 128x128 original centre; ``"rgb"`` mode trains on the whole
  RGB patch.
* loss: :class:`jpegnn.losses.transform_domain.DistortionMix` of MSE, L1, SATD 4x4/8x8 and DCT-
  domain MSE with weights from the config (default ``{mse: 1.0}``); Adam (lr 1e-4) by default.
* validation/test filter whole images (:func:`jpegnn.enhance.enhance_rgb`: CTU by CTU in ``"ctu"``
  mode) and measure, with torchmetrics PSNR objects (mean of per-image dB, synced across DDP
  ranks), the decoded input and the filtered output against the original on Y (BT.601) and RGB,
  all as 8-bit images, and log the gain in dB (``val/psnr_gain_y``, ``test/psnr_gain_rgb``, ...);
* test writes ``enhance_results.json`` (means, codec, network size) and ``per_image.csv`` into the
  run's log directory (rank zero, atomically), gathered from all ranks.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal, Optional

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn
from torchmetrics.image import PeakSignalNoiseRatio

from jpegnn.enhance.apply import enhance_rgb
from jpegnn.enhance.degradations import Degradation
from jpegnn.enhance.luma import random_ctu_crops, rgb_to_y
from jpegnn.errors import ConfigError, TrainingError
from jpegnn.losses.transform_domain import DistortionMix
from jpegnn.models.enhance.rdn import RDN, rdn_macs
from jpegnn.utils.atomic import write_csv_atomic, write_json_atomic
from jpegnn.utils.distributed import gather_rows, run_dir

log = logging.getLogger(__name__)

__all__ = ["EnhancementModule", "PER_IMAGE_FIELDS"]

#: columns of the test ``per_image.csv``
PER_IMAGE_FIELDS = (
    "image", "width", "height", "quality", "bpp",
    "psnr_y_decoded", "psnr_y_filtered", "psnr_y_gain",
    "psnr_rgb_decoded", "psnr_rgb_filtered", "psnr_rgb_gain",
)
_STAGES = ("val", "test")
_KINDS = ("decoded", "filtered")
_SPACES = ("y", "rgb")


def _psnr_db(x: Tensor, ref: Tensor) -> float:
    """PSNR in dB of one image (values in [0, 1], peak 1), in float64."""
    mse = torch.mean((x.double() - ref.double()) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


class EnhancementModule(LightningModule):
    """A residual dense network that enhances decoded images (see the module docstring).

    Args:
        mode: ``"ctu"`` (luma CTUs, 132 -> 128 with unpadded head convolutions) or ``"rgb"``.
        features: RDN feature channels ``F``.
        blocks: Residual dense blocks.
        layers: Dense layers per block ``D``.
        growth: Growth rate ``g``.
        local_residual: Residual connection inside each dense block.
        global_residual: Global residual before the last convolution.
        global_fusion: Fuse all block outputs (1x1 + 3x3) as in the RDN paper.
        ctu_size: CTU side in pixels (``"ctu"`` mode); training crops are ``ctu_size + 4``.
        degradation: The codec making the pairs, e.g. ``{class_path: jpegnn.enhance.JPEGDegradation,
            init_args: {quality: 20}}``. Not saved in the checkpoint (only its description is):
            required for fit/validate/test, not for applying a trained filter.
        loss: ``{name: weight}`` over ``mse``, ``l1``, ``satd4``, ``satd8``, ``dct_mse``,
            ``dct_mse_jpeg`` (default ``{mse: 1.0}``).
        optimizer: Optimizer (default ``Adam(lr=1e-4)``).
        lr_scheduler: Optional scheduler, stepped every ``lr_scheduler_interval``.
        lr_scheduler_interval: ``"epoch"`` or ``"step"``.
        num_log_images: Validation images (original, decoded, filtered) logged to TensorBoard.
        results_name: Name recorded in ``enhance_results.json`` (default ``rdn-<mode>``).
    """

    def __init__(
        self,
        mode: Literal["ctu", "rgb"] = "ctu",
        features: int = 32,
        blocks: int = 3,
        layers: int = 6,
        growth: int = 16,
        local_residual: bool = True,
        global_residual: bool = True,
        global_fusion: bool = True,
        ctu_size: int = 128,
        degradation: Optional[Degradation] = None,
        loss: Optional[dict[str, float]] = None,
        optimizer: Optional[OptimizerCallable] = None,
        lr_scheduler: Optional[LRSchedulerCallable] = None,
        lr_scheduler_interval: Literal["epoch", "step"] = "epoch",
        num_log_images: int = 0,
        results_name: Optional[str] = None,
    ) -> None:
        super().__init__()
        if isinstance(ctu_size, bool) or not isinstance(ctu_size, int) or ctu_size < 8:
            raise ConfigError(f"EnhancementModule: argument 'ctu_size' must be an integer >= 8, got {ctu_size!r}")
        if isinstance(num_log_images, bool) or not isinstance(num_log_images, int) or num_log_images < 0:
            raise ConfigError(
                f"EnhancementModule: argument 'num_log_images' must be an integer >= 0, got {num_log_images!r}"
            )
        if degradation is not None and not isinstance(degradation, Degradation):
            raise ConfigError(
                "EnhancementModule: argument 'degradation' must be a jpegnn.enhance.JPEGDegradation or "
                f"CheckpointDegradation, got {type(degradation).__name__}"
            )
        self.save_hyperparameters(ignore=["degradation", "optimizer", "lr_scheduler"])
        self.optimizer_factory = optimizer
        self.lr_scheduler_factory = lr_scheduler
        self.degradation = degradation  # plain object: never in the state dict
        self.net = RDN(mode, features, blocks, layers, growth, local_residual, global_residual, global_fusion)
        self.criterion = DistortionMix(loss if loss is not None else {"mse": 1.0})
        # PSNR (mean of per-image dB, data range 1) of decoded/filtered vs original, on Y and RGB
        self.psnr = nn.ModuleDict({
            f"{stage}_{kind}_{space}": PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))
            for stage in _STAGES for kind in _KINDS for space in _SPACES
        })
        self._test_rows: list[dict[str, Any]] = []
        self._ckpt_global_step: Optional[int] = None  # training steps of weights loaded from a checkpoint

    # ------------------------------------------------------------------ data side
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Add ``decoded`` (and per-image ``bpp``, ``quality``) to ``{"image", ...}`` batches."""
        if not isinstance(batch, dict) or "image" not in batch or "decoded" in batch:
            return batch
        if self.degradation is None:
            raise ConfigError(
                "EnhancementModule: argument 'degradation' is not set: give model.init_args.degradation "
                "(e.g. class_path: jpegnn.enhance.JPEGDegradation, init_args: {quality: 20})"
            )
        coded = self.degradation(batch["image"], training=self.training)
        return {**batch, "decoded": coded.decoded, "bpp": coded.bpp, "quality": coded.quality}

    # ------------------------------------------------------------------ optimizers
    def configure_optimizers(self) -> Any:
        opt = (self.optimizer_factory(self.net.parameters()) if self.optimizer_factory is not None
               else torch.optim.Adam(self.net.parameters(), lr=1e-4))
        if self.lr_scheduler_factory is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.lr_scheduler_factory(opt),
                                                    "interval": self.hparams.lr_scheduler_interval}}

    # ------------------------------------------------------------------ training
    def forward(self, decoded: Tensor) -> Tensor:
        """Filtered RGB (8-bit levels) of decoded ``B x 3 x H x W`` images in [0, 1]."""
        return enhance_rgb(self.net, decoded, self.hparams.ctu_size)

    def training_pair(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        """``(network input, target)``: random luma CTUs (132 in, 128 target) or RGB patches."""
        x, dec = batch["image"], batch["decoded"]
        if self.net.mode != "ctu":
            return dec, x
        b = self.net.border
        y, y_dec = random_ctu_crops((rgb_to_y(x), rgb_to_y(dec)), self.hparams.ctu_size + 2 * b)
        return y_dec, y[..., b:-b, b:-b]

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        inp, target = self.training_pair(batch)
        out = self.net(inp)
        losses = self.criterion(out, target)
        loss = losses["loss"]
        bad = not bool(torch.isfinite(loss.detach()))
        if self.trainer.strategy.reduce_boolean_decision(bad, all=False):
            raise TrainingError(
                f"non-finite loss at global step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx}): "
                f"loss={float(loss.detach()):.4g}. Lower the learning rate or check the input data."
            )
        bs = inp.shape[0]
        with torch.no_grad():
            b = self.net.border
            centre = inp[..., b: inp.shape[-2] - b, b: inp.shape[-1] - b] if b else inp
            mse_in = torch.mean((centre - target) ** 2)
            mse_out = torch.mean((out.clamp(0, 1) - target) ** 2)
            gain = 10 * torch.log10(mse_in.clamp_min(1e-12) / mse_out.clamp_min(1e-12))
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=bs)
        self.log("train/psnr_gain", gain, prog_bar=True, batch_size=bs)
        for name, value in losses.items():
            if name != "loss" and len(losses) > 2:
                self.log(f"train/{name}", value.detach(), batch_size=bs)
        return loss

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, Tensor, Tensor]:
        x = (batch["image"].clamp(0, 1) * 255).round() / 255
        dec = batch["decoded"]
        filt = enhance_rgb(self.net, dec, self.hparams.ctu_size)
        bs = x.shape[0]
        planes = {"rgb": (x, dec, filt), "y": (rgb_to_y(x), rgb_to_y(dec), rgb_to_y(filt))}
        for space, (ref, d, f) in planes.items():
            for kind, img in (("decoded", d), ("filtered", f)):
                metric = self.psnr[f"{stage}_{kind}_{space}"]
                metric.update(img, ref)
                self.log(f"{stage}/psnr_{space}_{kind}", metric, batch_size=bs, prog_bar=kind == "filtered" and space == "y")
        return x, dec, filt

    def _log_gains(self, stage: str) -> None:
        for space in _SPACES:
            # compute() syncs the states across DDP ranks: both values are global means
            gain = self.psnr[f"{stage}_filtered_{space}"].compute() - self.psnr[f"{stage}_decoded_{space}"].compute()
            self.log(f"{stage}/psnr_gain_{space}", gain, prog_bar=space == "y", sync_dist=True)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x, dec, filt = self._evaluate(batch, "val")
        if batch_idx == 0:
            self._log_images("val/original_decoded_filtered", x, dec, filt)

    def on_validation_epoch_end(self) -> None:
        self._log_gains("val")

    def on_test_start(self) -> None:
        self._test_rows = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x, dec, filt = self._evaluate(batch, "test")
        for i in range(x.shape[0]):
            ref_y, d_y, f_y = rgb_to_y(x[i : i + 1]), rgb_to_y(dec[i : i + 1]), rgb_to_y(filt[i : i + 1])
            row = {
                "image": str(batch["name"][i]), "width": int(x.shape[-1]), "height": int(x.shape[-2]),
                "quality": batch["quality"][i], "bpp": float(batch["bpp"][i]),
                "psnr_y_decoded": _psnr_db(d_y, ref_y), "psnr_y_filtered": _psnr_db(f_y, ref_y),
                "psnr_rgb_decoded": _psnr_db(dec[i], x[i]), "psnr_rgb_filtered": _psnr_db(filt[i], x[i]),
            }
            row["psnr_y_gain"] = row["psnr_y_filtered"] - row["psnr_y_decoded"]
            row["psnr_rgb_gain"] = row["psnr_rgb_filtered"] - row["psnr_rgb_decoded"]
            self._test_rows.append(row)

    def on_test_epoch_end(self) -> None:
        self._log_gains("test")
        rows = gather_rows(self._test_rows)
        if not rows:
            return
        keys = [k for k in PER_IMAGE_FIELDS if k not in ("image", "width", "height", "quality")]
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
        self.test_results = {"rows": rows, "mean": mean}
        self._write_results(run_dir(self.trainer), rows, mean)

    def describe_network(self) -> dict[str, Any]:
        """Network settings, parameter count and MACs per CTU / per pixel."""
        hp = self.hparams
        side = hp.ctu_size
        macs = rdn_macs(side, side, hp.features, hp.blocks, hp.layers, hp.growth, hp.mode, hp.global_fusion)
        return {
            "mode": hp.mode, "features": hp.features, "blocks": hp.blocks, "layers": hp.layers,
            "growth": hp.growth, "local_residual": hp.local_residual, "global_residual": hp.global_residual,
            "global_fusion": hp.global_fusion, "params": sum(p.numel() for p in self.net.parameters()),
            f"macs_per_{side}x{side}": macs, "macs_per_pixel": macs / (side * side),
        }

    @rank_zero_only
    def _write_results(self, out_dir: Path, rows: list[dict[str, Any]], mean: dict[str, float]) -> None:
        summary = {
            "name": self.hparams.results_name or f"rdn-{self.hparams.mode}",
            "codec": self.degradation.describe() if self.degradation is not None else None,
            "images": len(rows),
            # `jpegnn test --ckpt_path` does not restore the trainer's step: take the checkpoint's
            "global_step": int(self.global_step) if self.global_step > 0 or self._ckpt_global_step is None
            else self._ckpt_global_step,
            "network": self.describe_network(),
            "mean": mean,
            "note": "PSNR in dB (peak 1) per image on 8-bit images, averaged over images; "
                    "Y = BT.601 full-range luma of the RGB images; gain = filtered - decoded",
        }
        write_json_atomic(out_dir / "enhance_results.json", summary)
        write_csv_atomic(out_dir / "per_image.csv", rows, PER_IMAGE_FIELDS)
        log.info("wrote %s and %s", out_dir / "enhance_results.json", out_dir / "per_image.csv")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "global_step" in checkpoint:
            self._ckpt_global_step = int(checkpoint["global_step"])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # a string only: the codec object itself is not saved (weights_only checkpoints)
        checkpoint["enhancement_codec"] = self.degradation.describe() if self.degradation is not None else None

    # ------------------------------------------------------------------ helpers
    def _log_images(self, tag: str, *images: Tensor) -> None:
        if self.hparams.num_log_images <= 0 or self.logger is None:
            return
        experiment = getattr(self.logger, "experiment", None)
        if experiment is None or not hasattr(experiment, "add_images"):
            return
        n = min(self.hparams.num_log_images, images[0].shape[0])
        grid = torch.cat([im[:n] for im in images], dim=0).detach().float().clamp(0, 1).cpu()
        experiment.add_images(tag, grid, self.global_step)
