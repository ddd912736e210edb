"""Learning JPEG quantization tables for a vision network: ``QTableClassifier`` and ``QTableSegmenter``.

A :class:`~jpegnn.jpeg.DiffJPEG` layer (libjpeg-faithful encode+decode, straight-through
rounding) sits in front of a task network; the loss is the task loss plus ``beta`` times a
differentiable rate term, so the tables learn to spend bits where the *network* needs them
rather than where the eye does (the origin's 2019 lab notebook; we fix what it could not:
tables stay positive by construction, validation uses the integer tables an encoder would
store, and the size is counted exactly and checked against real Pillow files).

Modes (``mode``):

* ``"table"``: learn the tables, the network is frozen (``requires_grad=False`` and kept in
  eval mode, so BatchNorm statistics do not move). Load the network from ``weights_path``
  (a state dict file) — a frozen random network is rarely useful.
* ``"joint"``: learn tables and network together.
* ``"network"``: the baseline: tables fixed at ``quality`` (Annex K scaled like libjpeg), the
  network trains on JPEG-compressed inputs.
* ``"uncompressed"``: no JPEG at all (the reference row of the notebook's tables); bpp is
  reported as the raw 24 bits/pixel.

Rate terms (``rate``; normalised so that ``beta`` does not depend on the image size; see
:mod:`jpegnn.tasks.qtable_codec`, which maps them onto :mod:`jpegnn.jpeg.rate`):

* ``"bits"``: the differentiable estimate of the whole baseline file, **bits per pixel**
  (tracks :func:`jpegnn.jpeg.jpeg_size`);
* ``"abs_over_q"``: the notebook's ``Σ |F| / Q`` over all coefficients, per pixel (quantization
  steps, a proxy of the magnitude of what is coded);
* ``"inv_l1"``: the notebook's ``1 / ‖Q‖₁`` times the number of entries, i.e. ``1 / mean(Q)``
  (0.017 for quality-50 tables); it ignores the image entirely;
* ``"none"``: no rate term (``beta`` unused).

Metrics (torchmetrics attributes, one per stage; DDP-correct summed states):

* ``{stage}/acc`` (classification top-1), or ``{stage}/miou`` and ``{stage}/pixel_acc``
  (segmentation, 255 ignored);
* ``{stage}/bpp_estimated``: the differentiable estimate, Σ bits / Σ pixels;
* ``{stage}/bpp_exact`` (validation/test): bits of the whole baseline JPEG file (headers
  included) for the **integer** tables, from :func:`jpegnn.jpeg.jpeg_size`;
* ``{stage}/compression_ratio``: 24 bits/pixel ÷ ``bpp_exact``;
* ``test/acc_real`` (or ``test/miou_real`` ...) and ``test/bpp_real`` with ``real_jpeg=True``: the
  network on images really encoded and decoded by Pillow (libjpeg-turbo) with the exported
  tables, and the real file sizes.

Validation and test run the JPEG layer in eval mode, which quantizes with the rounded tables
clamped to [1, 255] — exactly what ``jpegnn export-qtables`` writes. Every checkpoint carries
those tables under ``checkpoint["jpeg_qtables"]`` (plain lists: ``weights_only=True`` loads it).
Table heatmaps and their cjpeg text go to TensorBoard after each validation epoch.
Test writes ``qtable_results.json`` (metrics + tables) into the run's log directory.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal, Optional

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from jpegnn.errors import ConfigError, TrainingError
from jpegnn.metrics.bpp import BitsPerPixel
from jpegnn.models.classifiers import build_classifier
from jpegnn.models.segmenters import build_segmenter
from jpegnn.tasks import qtable_codec as codec
from jpegnn.utils.atomic import write_json_atomic
from jpegnn.utils.distributed import run_dir

log = logging.getLogger(__name__)

__all__ = ["QTableClassifier", "QTableSegmenter", "MODES", "RAW_BITS_PER_PIXEL"]

MODES = ("table", "joint", "network", "uncompressed")
#: bits per pixel of uncompressed 8-bit RGB (the numerator of the compression ratio)
RAW_BITS_PER_PIXEL = 24.0


class _QTableTask(LightningModule):
    """Shared logic of the two tasks: JPEG layer, modes, rate term, bpp metrics, tables I/O.

    Subclasses build ``self.net`` and implement :meth:`_logits`, :meth:`_task_loss`,
    :meth:`_make_task_metrics` and :meth:`_update_task_metrics`.

    Args:
        weights_path: Local state-dict file for the network (never a download); a head of
            another class count is re-initialised.
        mode: ``"table"``, ``"joint"``, ``"network"`` or ``"uncompressed"`` (module docstring).
        quality: IJG quality 1..100 of the fixed tables (``"network"``) or of the initial tables.
        table_init: ``"quality"`` (Annex K tables at ``quality``), ``"random"`` (uniform 1..255;
            the notebook found this trains much worse) or ``"flat"`` (every entry equal to the mean
            of the quality-``quality`` luma table: no frequency favoured at the start).
        subsampling: ``"4:2:0"`` (Pillow's default), ``"4:2:2"`` or ``"4:4:4"``.
        rounding: quantizer surrogate in training: ``"ste"`` (exact forward), ``"noise"`` or
            ``"cubic"`` (both bias the forward distortion; see :mod:`jpegnn.jpeg.rounding`).
        separate_chroma: learn separate Cb and Cr tables (3 tables exported).
        rate: ``"bits"``, ``"abs_over_q"``, ``"inv_l1"`` or ``"none"`` (module docstring).
        beta: Weight of the rate term: cross-entropy units per bit/pixel for ``"bits"``.
        lr: Learning rate of the network parameters (with the default Adam).
        table_lr: Learning rate of the table parameters (raw softplus parameters; a step of
            0.01–0.1 moves a mid-range entry by about the same amount in steps of Q).
        optimizer: Optimizer factory receiving the two parameter groups (default Adam(lr)).
        lr_scheduler: Optional scheduler factory, stepped per epoch.
        lr_scheduler_monitor: Metric a ``ReduceLROnPlateau`` scheduler watches.
        exact_bpp: Count exact JPEG file sizes in validation/test (``jpeg_size``).
        optimize_huffman: Count sizes (and encode with Pillow) with optimized Huffman tables
            (Pillow's ``optimize=True``); default False = Pillow's default.
        real_jpeg: In test, also score the network on images really encoded/decoded by Pillow
            with the integer tables, and report the real bpp.
        test_quality: Test with the standard tables of this quality instead of the learned or
            training tables (quality sweeps); None tests with the module's own tables.
    """

    target_key: str = "label"

    def __init__(
        self,
        weights_path: Optional[str] = None,
        mode: Literal["table", "joint", "network", "uncompressed"] = "joint",
        quality: int = 50,
        table_init: Literal["quality", "random", "flat"] = "quality",
        subsampling: Literal["4:2:0", "4:2:2", "4:4:4"] = "4:2:0",
        rounding: Literal["ste", "noise", "cubic"] = "ste",
        separate_chroma: bool = False,
        rate: Literal["bits", "abs_over_q", "inv_l1", "none"] = "bits",
        beta: float = 0.0,
        lr: float = 1e-3,
        table_lr: float = 1e-2,
        optimizer: Optional[OptimizerCallable] = None,
        lr_scheduler: Optional[LRSchedulerCallable] = None,
        lr_scheduler_monitor: str = "val/loss",
        exact_bpp: bool = True,
        optimize_huffman: bool = False,
        real_jpeg: bool = False,
        test_quality: Optional[int] = None,
    ) -> None:
        """The arguments both tasks share (the subclass adds its network's). Saves all of them,
        the subclass's included (Lightning collects the calling ``__init__`` frames), as
        hyperparameters, and builds the JPEG layer; the subclass then calls :meth:`_finish_init`."""
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        self.optimizer_factory = optimizer
        self.lr_scheduler_factory = lr_scheduler
        self._init_jpeg(mode, quality, subsampling, rounding, separate_chroma, table_init, rate, beta)

    def _finish_init(self, net: nn.Module) -> None:
        """Attach the task network, freeze it in ``"table"`` mode, build the metrics."""
        self.net = net
        self._freeze_network_if_needed()
        self._init_metrics()

    def _init_jpeg(
        self,
        mode: str,
        quality: int,
        subsampling: str,
        rounding: str,
        separate_chroma: bool,
        table_init: str,
        rate: str,
        beta: float,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"argument 'mode' must be one of {', '.join(MODES)}, got {mode!r}")
        if rate not in codec.RATE_TERMS:
            raise ConfigError(f"argument 'rate' must be one of {', '.join(codec.RATE_TERMS)}, got {rate!r}")
        if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
            raise ConfigError(f"argument 'beta' must be a finite number >= 0, got {beta!r}")
        self.mode = mode
        learnable = mode in ("table", "joint")
        self.jpeg: Optional[nn.Module] = None
        if mode != "uncompressed":
            self.jpeg = codec.build_jpeg(
                quality=quality, subsampling=subsampling, learnable=learnable, rounding=rounding,
                separate_chroma=separate_chroma, init=table_init,
            )
        self._test_jpeg: Optional[nn.Module] = None
        self.learns_tables = learnable

    def _init_metrics(self) -> None:
        for stage in ("train", "val", "test"):
            setattr(self, f"{stage}_task", self._make_task_metrics())
            setattr(self, f"{stage}_bpp_estimated", BitsPerPixel())
        self.val_loss = MeanMetric()
        self.val_bpp_exact = BitsPerPixel()
        self.test_bpp_exact = BitsPerPixel()
        self.test_real_task = self._make_task_metrics()
        self.test_bpp_real = BitsPerPixel()

    def _freeze_network_if_needed(self) -> None:
        if self.mode == "table":
            for p in self.net.parameters():
                p.requires_grad_(False)

    # ------------------------------------------------------------------ subclass hooks
    def _make_task_metrics(self) -> MetricCollection:
        raise NotImplementedError

    def _logits(self, x: Tensor, batch: dict[str, Any]) -> Tensor:
        raise NotImplementedError

    def _task_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def _update_task_metrics(self, metrics: MetricCollection, logits: Tensor, target: Tensor) -> None:
        metrics.update(logits.argmax(dim=1), target)

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> "_QTableTask":
        """Keep a frozen network in eval mode (BatchNorm statistics, dropout) while training tables."""
        super().train(mode)
        if mode and getattr(self, "mode", None) == "table":
            self.net.eval()
        return self

    def on_train_epoch_start(self) -> None:
        # Lightning 2.6 keeps the module's own train/eval flags at fit start (it does not call
        # .train()), so the frozen network is put into eval mode here, after Lightning's start-of-fit
        # check (which would warn about modules in eval mode), and by train() after each validation.
        if self.mode == "table":
            self.net.eval()

    def setup(self, stage: str) -> None:
        """Check that the data module's class count (if it declares one) matches ``num_classes``."""
        trainer = getattr(self, "_trainer", None)
        dm = getattr(trainer, "datamodule", None) if trainer is not None else None
        n = getattr(dm, "num_classes", None)
        if isinstance(n, int) and n != self.hparams.num_classes:
            raise ConfigError(
                f"{type(self).__name__}: argument 'num_classes' is {self.hparams.num_classes} but the data module "
                f"{type(dm).__name__} has {n} classes; set --model.init_args.num_classes={n}"
            )

    # ------------------------------------------------------------------ codec
    def compress(
        self, x: Tensor, jpeg: Optional[nn.Module] = None, with_rate: bool = True
    ) -> tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        """JPEG-compress ``x`` (B x 3 x H x W in [0, 1]) through the layer in its current mode.

        Returns:
            ``(x_hat, bits, rate)``: the decoded images, the per-image differentiable bit estimate
            (None when uncompressed) and the scalar rate term of ``hparams.rate`` (None for
            ``"none"``, when uncompressed, or with ``with_rate=False``).
        """
        jpeg = self.jpeg if jpeg is None else jpeg
        if jpeg is None:
            return x, None, None
        coefs = jpeg.encode(x)
        x_hat = jpeg.decode(coefs)
        bits = codec.estimated_bits(coefs)
        rate = codec.rate_term(self.hparams.rate, coefs, jpeg, bits=bits) if with_rate else None
        return x_hat, bits, rate

    def integer_tables(self, jpeg: Optional[nn.Module] = None) -> Optional[tuple[Tensor, ...]]:
        """The int64 8x8 tables (``(luma, chroma)`` or ``(Y, Cb, Cr)``) an encoder gets; None when uncompressed."""
        jpeg = self.jpeg if jpeg is None else jpeg
        return None if jpeg is None else tuple(t.cpu() for t in jpeg.integer_tables())

    def _eval_jpeg(self) -> Optional[nn.Module]:
        return self._test_jpeg if (self._test_jpeg is not None and self.trainer.testing) else self.jpeg

    # ------------------------------------------------------------------ optimizers
    def configure_optimizers(self) -> Any:
        """One optimizer with two parameter groups: the network (``lr``) and the tables (``table_lr``).

        ``optimizer`` (an ``OptimizerCallable`` from the config) receives the groups; the default
        is Adam. The table group sets its own ``lr`` and no weight decay.
        """
        groups: list[dict[str, Any]] = []
        net_params = [p for p in self.net.parameters() if p.requires_grad]
        if net_params:
            groups.append({"params": net_params, "name": "network"})
        if self.learns_tables:
            groups.append({"params": list(self.jpeg.parameters()), "lr": self.hparams.table_lr,
                           "weight_decay": 0.0, "name": "tables"})
        if not groups:
            raise ConfigError(f"{type(self).__name__}: nothing to train in mode {self.mode!r}")
        if self.optimizer_factory is not None:
            opt = self.optimizer_factory(groups)
        else:
            opt = torch.optim.Adam(groups, lr=self.hparams.lr)
        if self.lr_scheduler_factory is None:
            return opt
        sched = self.lr_scheduler_factory(opt)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch",
                                                   "monitor": self.hparams.lr_scheduler_monitor}}

    # ------------------------------------------------------------------ training
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        x, target = batch["image"], batch[self.target_key]
        x_hat, bits, rate = self.compress(x)
        logits = self._logits(x_hat, batch)
        task_loss = self._task_loss(logits, target)
        loss = task_loss
        if rate is not None and self.learns_tables and self.hparams.beta > 0:
            loss = loss + self.hparams.beta * rate
        if not bool(torch.isfinite(loss.detach())):
            raise TrainingError(
                f"non-finite loss at global step {self.global_step} (batch {batch_idx}): "
                f"task loss {float(task_loss.detach()):.4g}, rate {float(rate.detach()) if rate is not None else 0:.4g}; "
                "lower the learning rates or beta"
            )
        bs, pixels = x.shape[0], x.shape[-2] * x.shape[-1]
        with torch.no_grad():
            self._update_task_metrics(self.train_task, logits.detach(), target)
            self.train_bpp_estimated.update(
                bits.detach().sum() if bits is not None else RAW_BITS_PER_PIXEL * bs * pixels, bs * pixels
            )
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=bs)
        self.log("train/task_loss", task_loss.detach(), batch_size=bs)
        if rate is not None:
            self.log("train/rate", rate.detach(), batch_size=bs)
        return loss

    def on_train_epoch_end(self) -> None:
        self._log_computed("train", self.train_task, self.train_bpp_estimated)

    # ------------------------------------------------------------------ validation / test
    def _eval_step(self, stage: str, batch: dict[str, Any]) -> None:
        x, target = batch["image"], batch[self.target_key]
        jpeg = self._eval_jpeg()
        x_hat, bits, _ = self.compress(x, jpeg, with_rate=False)
        logits = self._logits(x_hat, batch)
        bs, pixels = x.shape[0], x.shape[-2] * x.shape[-1]
        self._update_task_metrics(getattr(self, f"{stage}_task"), logits, target)
        est = getattr(self, f"{stage}_bpp_estimated")
        exact = getattr(self, f"{stage}_bpp_exact")
        if jpeg is None:
            est.update(RAW_BITS_PER_PIXEL * bs * pixels, bs * pixels)
            exact.update(RAW_BITS_PER_PIXEL * bs * pixels, bs * pixels)
        else:
            est.update(bits.sum(), bs * pixels)
            if self.hparams.exact_bpp:
                tables = self.integer_tables(jpeg)
                nbytes = codec.exact_bytes(x, tables, jpeg.subsampling, self.hparams.optimize_huffman)
                exact.update(8.0 * nbytes.sum(), bs * pixels)
        if stage == "val":
            self.val_loss.update(self._task_loss(logits, target), weight=bs)
        if stage == "test" and self.hparams.real_jpeg:
            self._real_jpeg_step(batch, jpeg)

    def _real_jpeg_step(self, batch: dict[str, Any], jpeg: Optional[nn.Module]) -> None:
        """Encode/decode the batch with Pillow (exported integer tables) and score the network on it."""
        x, target = batch["image"], batch[self.target_key]
        bs, pixels = x.shape[0], x.shape[-2] * x.shape[-1]
        if jpeg is None:
            decoded, nbytes = x, torch.full((bs,), RAW_BITS_PER_PIXEL * pixels / 8.0)
        else:
            decoded, nbytes = codec.pillow_roundtrip(
                x, self.integer_tables(jpeg), jpeg.subsampling, self.hparams.optimize_huffman
            )
            decoded = decoded.to(x.device, x.dtype)
        logits = self._logits(decoded, batch)
        self._update_task_metrics(self.test_real_task, logits, target)
        self.test_bpp_real.update(8.0 * nbytes.sum(), bs * pixels)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        values = self._log_computed("val", self.val_task, self.val_bpp_estimated,
                                    self.val_bpp_exact if self.hparams.exact_bpp else None)
        loss = self.val_loss.compute()
        self.val_loss.reset()
        self.log("val/loss", loss, prog_bar=True)
        values["val/loss"] = float(loss)
        if not self.trainer.sanity_checking:
            self._log_tables()

    def on_test_start(self) -> None:
        q = self.hparams.test_quality
        self._test_jpeg = None
        if q is not None:
            self._test_jpeg = codec.build_jpeg(quality=q, subsampling=self.hparams.subsampling, learnable=False,
                                               rounding=self.hparams.rounding).to(self.device).eval()
        self.test_results: dict[str, Any] = {}

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        values = self._log_computed("test", self.test_task, self.test_bpp_estimated,
                                    self.test_bpp_exact if self.hparams.exact_bpp else None)
        if self.hparams.real_jpeg:
            real = {f"test/{k}_real": float(v) for k, v in self.test_real_task.compute().items()}
            bpp_real = float(self.test_bpp_real.compute())
            real["test/bpp_real"] = bpp_real
            real["test/compression_ratio_real"] = RAW_BITS_PER_PIXEL / bpp_real if bpp_real > 0 else float("nan")
            self.test_real_task.reset()
            self.test_bpp_real.reset()
            for k, v in real.items():
                self.log(k, v)
            values.update(real)
        tables = self.integer_tables(self._eval_jpeg())
        self.test_results = {
            "metrics": values,
            "mode": self.mode,
            "test_quality": self.hparams.test_quality,
            "subsampling": self.hparams.subsampling,
            "optimize_huffman": self.hparams.optimize_huffman,
            "tables": None if tables is None else [t.flatten().tolist() for t in tables],
        }
        self._write_test_results(run_dir(self.trainer))  # collective: every rank

    @rank_zero_only
    def _write_test_results(self, out_dir: Path) -> None:
        path = out_dir / "qtable_results.json"
        write_json_atomic(path, self.test_results)
        log.info("wrote %s", path)

    def _log_computed(self, stage: str, task: MetricCollection, est: BitsPerPixel,
                      exact: Optional[BitsPerPixel] = None) -> dict[str, float]:
        """Compute (synced), log and reset the stage's metrics; returns the logged values."""
        values = {f"{stage}/{k}": float(v) for k, v in task.compute().items()}
        values[f"{stage}/bpp_estimated"] = float(est.compute())
        task.reset()
        est.reset()
        # compute() all-reduces, so every rank calls it (a rank whose own pixel count is 0 must
        # not skip it); no pixels on any rank gives 0 bpp, which a real JPEG file never has
        if exact is not None:
            bpp = float(exact.compute())
            exact.reset()
            if bpp > 0:
                values[f"{stage}/bpp_exact"] = bpp
                values[f"{stage}/compression_ratio"] = RAW_BITS_PER_PIXEL / bpp
        for k, v in values.items():
            self.log(k, v, prog_bar=k.endswith(("/acc", "/miou", "/bpp_exact")))
        return values

    # ------------------------------------------------------------------ tables: logging and checkpoints
    def _log_tables(self) -> None:
        tables = self.integer_tables()
        if tables is None:
            return
        for name, t in zip(codec.table_names(len(tables)), tables):
            self.log(f"tables/{name}_mean", float(t.float().mean()))
        experiment = getattr(self.logger, "experiment", None) if self.logger is not None else None
        if experiment is None or not hasattr(experiment, "add_image"):
            return
        for name, t in zip(codec.table_names(len(tables)), tables):
            experiment.add_image(f"tables/{name}", codec.table_heatmap(t), self.global_step)
        if hasattr(experiment, "add_text"):
            text = codec.cjpeg_text(tables, self.jpeg.subsampling, comment=f"step {self.global_step}")
            experiment.add_text("tables/cjpeg", "    " + text.replace("\n", "\n    "), self.global_step)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the integer tables as plain lists (``jpegnn export-qtables`` reads them)."""
        tables = self.integer_tables()
        if tables is not None:
            checkpoint["jpeg_qtables"] = {
                "tables": [t.flatten().tolist() for t in tables],
                "names": list(codec.table_names(len(tables))),
                "subsampling": self.jpeg.subsampling,
                "mode": self.mode,
                "task": type(self).__name__,
            }


class QTableClassifier(_QTableTask):
    """JPEG layer + image classifier, trained with cross-entropy + ``beta`` · rate.

    Args:
        arch: ``resnet18``, ``resnet50``, ``small_cnn`` or ``block_mlp``
            (:mod:`jpegnn.models.classifiers`; torchvision models are built with ``weights=None``).
        num_classes: Number of classes (must match the data module's).
        (the shared arguments, ``weights_path`` to ``test_quality``, are listed under
        :class:`_QTableTask`)
        label_smoothing: Cross-entropy label smoothing.
    """

    target_key = "label"

    def __init__(self, arch: str = "resnet18", num_classes: int = 10, label_smoothing: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self._finish_init(build_classifier(arch, num_classes, self.hparams.weights_path))

    def _make_task_metrics(self) -> MetricCollection:
        n = self.hparams.num_classes
        return MetricCollection({"acc": MulticlassAccuracy(num_classes=n, average="micro", top_k=1)})

    def _logits(self, x: Tensor, batch: dict[str, Any]) -> Tensor:
        return self.net(x)

    def _task_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target, label_smoothing=self.hparams.label_smoothing)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of ``x`` (B x 3 x H x W in [0, 1]) after the JPEG layer in its current mode."""
        return self.net(self.compress(x, with_rate=False)[0])


class QTableSegmenter(_QTableTask):
    """JPEG layer + semantic segmentation network (ADE20K: 150 classes, 255 ignored).

    Loss: pixel cross-entropy with ``ignore_index`` + ``beta`` · rate. Metrics: mean IoU over the
    classes present in predictions or targets (``MulticlassJaccardIndex(average="macro")``, which
    drops classes with an empty union, like mmsegmentation's nan-mean) and pixel accuracy
    (``MulticlassAccuracy(average="micro")``), both ignoring ``ignore_index``. Evaluation logits are
    upsampled to the mask's (original) resolution.

    Args:
        arch: ``deeplabv3_mobilenet_v3_large``, ``lraspp_mobilenet_v3_large``, ``fcn_resnet50``,
            ``deeplabv3_resnet50`` or ``tiny`` (:mod:`jpegnn.models.segmenters`).
        num_classes: Number of classes (150 for ADE20K).
        ignore_index: Mask value excluded from loss and metrics.
        (the shared arguments are listed under :class:`_QTableTask`)
    """

    target_key = "mask"

    def __init__(
        self, arch: str = "deeplabv3_mobilenet_v3_large", num_classes: int = 150, ignore_index: int = 255, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self._finish_init(build_segmenter(arch, num_classes, self.hparams.weights_path))

    def _make_task_metrics(self) -> MetricCollection:
        n, ign = self.hparams.num_classes, self.hparams.ignore_index
        return MetricCollection({
            "miou": MulticlassJaccardIndex(num_classes=n, ignore_index=ign, average="macro"),
            "pixel_acc": MulticlassAccuracy(num_classes=n, ignore_index=ign, average="micro"),
        })

    def _logits(self, x: Tensor, batch: dict[str, Any]) -> Tensor:
        mask = batch.get("mask")
        return self.net(x, size=tuple(mask.shape[-2:]) if mask is not None else None)

    def _task_loss(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits, target, ignore_index=self.hparams.ignore_index)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B x C x H x W) of ``x`` after the JPEG layer in its current mode."""
        return self.net(self.compress(x, with_rate=False)[0])
