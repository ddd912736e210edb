"""LICModule: training and real-bitstream evaluation of learned image codecs.

The network is a plain CompressAI model built by :func:`jpegnn.models.lic.build_lic_model`; this
module holds the training logic only:

* loss ``λ·255²·MSE + bpp`` or ``λ·(1 − MS-SSIM) + bpp`` (:class:`RateDistortionLoss`);
* two Adam optimizers as in CompressAI's ``examples/train.py``: the network (lr 1e-4) and the
  entropy-bottleneck ``quantiles`` (lr 1e-3) trained by the aux loss, with manual optimization and
  gradient clipping at max norm 1.0 on the network parameters;
* ``trainer.global_step`` counts *training batches*: the aux optimizer is stepped without
  Lightning's step counter (Lightning issue 17958 otherwise doubles it), so ``max_steps`` and
  ``every_n_train_steps`` mean batches;
* each batch is CompressAI's ``examples/train.py`` step, in its order: ``loss.backward()``, clip,
  network step; then ``aux_loss`` is computed on the *updated* entropy-bottleneck densities,
  back-propagated and the aux optimizer steps. The aux loss reaches only the quantiles, in float32
  and unscaled under AMP (it never sees activations). Under DDP the quantiles are left out of
  DDP's gradient synchronisation (``_set_params_and_buffers_to_ignore_for_model``): the aux loss
  does not depend on the data, so every rank computes the same gradient from the same
  (synchronised) densities, and the network's backward needs no ``find_unused_parameters``;
* precision: ``32-true``, ``bf16-mixed`` and ``16-mixed`` (fp16 AMP: clipping after the GradScaler
  unscales, one scale update per batch). Under ``-mixed`` only the transforms are autocast: the
  entropy models (noisy latents, likelihoods, the bottleneck's density and aux loss) compute in
  float32 (:func:`jpegnn.models.lic.precision.float32_entropy_models`, applied by
  ``build_lic_model``), and so does MS-SSIM. ``*-true`` low/high precisions are a ConfigError (the
  entropy models and the rANS coder need float32 weights). ``accumulate_grad_batches`` > 1 is
  refused by Lightning under manual optimization;
* the entropy-model CDFs are rebuilt (``update(force=True)``) before every checkpoint save, so any
  saved checkpoint can encode immediately; with ``refit_quantiles=True`` the quantiles are refit by
  bisection first (CompressAI PR 231). Off by default: CompressAI's ``examples/train.py`` trains the
  quantiles by the aux loss only, and a refit at each save would make saves part of the training
  trajectory;
* test and predict code with the evaluation protocol ``eval_protocol``
  (:mod:`jpegnn.coding.protocol`): ``compressai`` (default; centred zero padding, the quantiles the
  weights carry, as ``compressai.utils.eval_model``) or ``jpegnn`` (bottom-right edge padding,
  quantiles refit before coding);
* validation logs loss, MSE, *estimated* bpp (summed bits over summed pixels) and PSNR as the mean
  of per-image dB;
* test codes every image for real (rANS bitstreams), writes ``results.json`` (CompressAI format,
  plus a ``protocol`` field) and ``per_image.csv`` atomically into the run's log directory, and
  logs reconstructions.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from torchmetrics import MeanMetric
from torchmetrics.image import PeakSignalNoiseRatio

from jpegnn.coding.lic import evaluate_image, padding_multiple, prepare_entropy_models
from jpegnn.coding.protocol import get_protocol
from jpegnn.coding.padding import crop_to, pad_to_multiple
from jpegnn.errors import ConfigError, TrainingError
from jpegnn.evaluation.results import compressai_results, summarize, write_per_image_csv, write_results_json
from jpegnn.losses.rate_distortion import RateDistortionLoss, bits_from_likelihoods
from jpegnn.metrics.bpp import BitsPerPixel
from jpegnn.models.lic import build_lic_model, default_lambda
from jpegnn.models.lic.buffers import CDF_BUFFERS, match_cdf_buffers
from jpegnn.models.lic.quantization import set_latent_quantizer
from jpegnn.utils.distributed import gather_rows, run_dir

log = logging.getLogger(__name__)

def _under(name: str, prefix: str) -> bool:
    """Whether parameter ``name`` is ``prefix`` or lies in the module ``prefix`` (``lr_scale`` keys)."""
    return name == prefix or name.startswith(f"{prefix}.")


def _is_quantile(name: str) -> bool:
    return name.endswith(".quantiles") or name == "quantiles"


class LICModule(LightningModule):
    """Learned image compression with CompressAI networks.

    Args:
        architecture: ``bmshj2018-factorized``, ``bmshj2018-hyperprior``, ``mbt2018-mean``,
            ``mbt2018``, ``checkerboard`` or ``elic``.
        quality: CompressAI zoo preset 1..8 (λ and N/M); each value below overrides it.
        N: hidden channels of the transforms (default: the preset's).
        M: latent channels (default: the preset's).
        lmbda: rate-distortion λ (default: the zoo λ of ``quality`` for ``distortion``).
        distortion: ``"mse"`` or ``"ms-ssim"``.
        optimizer: network optimizer (default ``Adam(lr=1e-4)``).
        aux_optimizer: optimizer of the entropy-bottleneck quantiles (default ``Adam(lr=1e-3)``).
        lr_scheduler: optional scheduler of the network optimizer, e.g. ``MultiStepLR`` or
            ``ReduceLROnPlateau`` (the latter steps on ``lr_scheduler_monitor`` after validation).
        lr_scheduler_interval: ``"epoch"`` or ``"step"`` (ignored for ReduceLROnPlateau).
        lr_scheduler_monitor: metric a plateau scheduler watches.
        clip_max_norm: gradient-norm clip of the network parameters (0 disables).
        refit_quantiles: refit the quantiles by bisection before building the CDFs at every
            checkpoint save (narrows the actual-vs-estimated bpp gap of CompressAI issue 236 after
            short training, but moves trained parameters: off by default, as CompressAI trains).
        eval_protocol: how ``test``/``predict`` pad images and build the entropy tables:
            ``"compressai"`` (as ``compressai.utils.eval_model``) or ``"jpegnn"``; see
            :mod:`jpegnn.coding.protocol`. Recorded in ``results.json``.
        num_log_images: reconstructions logged to TensorBoard per validation/test epoch.
        results_name: ``name`` field of ``results.json`` (default ``"<architecture>-q<quality>"``).
        channels_last: keep weights and training batches in channels-last memory format (faster
            convolutions on recent GPUs with ``bf16-mixed``/``16-mixed`` precision).
        compile: run the training forward through ``torch.compile`` (the first steps compile). Also
            on CPU: 1.22x a plain loop for the CPU zoo model
            (``benchmarks/results/zoo_cpu_training_setup.md``). Validation, test and entropy coding
            always use the eager model.
        N_entropy: width of the hyper branch (``z`` channels, entropy bottleneck, ``h_a``/``h_s``
            hidden layers) when it differs from N; hyperprior family only (``bmshj2018-hyperprior``,
            ``mbt2018-mean``). Knowledge-distilled students use it (:mod:`jpegnn.tasks.distillation`).
        ms_ssim_normalize: MS-SSIM training loss: ``"relu"`` (standard MS-SSIM; 0 with a zero
            gradient for an untrained decoder, which is warned about at the first step: fine-tune
            from an MSE model) or ``"simple"`` (torchmetrics' (s + 1) / 2 surrogate, trainable from
            scratch). Evaluation always reports standard MS-SSIM.
        weights: initial network weights, loaded once the network is built: a model zoo short name
            (``mbt2018-cpu-q3`` or ``zoo:NAME``, see :mod:`jpegnn.zoo`; its SHA-256 is
            checked), a CompressAI state-dict file (``jpegnn export-weights``, a release file,
            CompressAI's own zoo files), or a ``jpegnn fit`` checkpoint (its ``model.*`` weights; a
            KD checkpoint gives its student's). Read with ``weights_only=True``; the entropy-model
            CDF buffers take the file's sizes; weights that do not fit the configured network are a
            ConfigError naming ``weights`` and the first key that differs. Only the network is
            loaded (no optimizer state, no step), so ``jpegnn test --model.init_args.weights NAME``
            tests a zoo model and ``jpegnn fit --model.init_args.quality 2 --model.init_args.weights
            NAME`` fine-tunes another rate from a trained one with fresh optimizers. Not saved in the
            hyperparameters: a checkpoint holds its own weights and loads without that file (the
            run's ``config.yaml`` records it). ``--ckpt_path`` weights replace these.
        latent_quantizer: how training quantizes the latent ``y``: ``"noise"`` (CompressAI's
            additive uniform noise, for the rate and the decoder) or ``"ste"`` (mixed: noise for the
            rate, the coder's ``round(y - μ) + μ`` with a straight-through gradient for ``g_s``;
            Minnen & Singh 2020, CompressAI's ``quantizer="ste"``). Hyperprior models only
            (``bmshj2018-hyperprior``, ``mbt2018-mean``, ``mbt2018``); validation, test and the exported weights
            are unaffected (:mod:`jpegnn.models.lic.quantization`).
        lr_scale: learning-rate factors for parts of the network, by parameter-name prefix, e.g.
            ``{context_prediction: 10, entropy_parameters: 10}``: when new layers are fine-tuned on
            a trained model (``jpegnn zoo add-context``), they start from zero weight and learn
            slowly at the trained layers' small lr. Each prefix gets its own param group of the
            network optimizer at ``lr * factor``; schedulers scale every group alike
            (``LearningRateDrop`` caps them all). A prefix that names no parameter is a ConfigError.
    """

    def __init__(
        self,
        architecture: str = "bmshj2018-hyperprior",
        quality: int = 3,
        N: Optional[int] = None,
        M: Optional[int] = None,
        lmbda: Optional[float] = None,
        distortion: Literal["mse", "ms-ssim"] = "mse",
        optimizer: Optional[OptimizerCallable] = None,
        aux_optimizer: Optional[OptimizerCallable] = None,
        lr_scheduler: Optional[LRSchedulerCallable] = None,
        lr_scheduler_interval: Literal["epoch", "step"] = "epoch",
        lr_scheduler_monitor: str = "val/loss",
        clip_max_norm: float = 1.0,
        refit_quantiles: bool = False,
        eval_protocol: str = "compressai",
        num_log_images: int = 2,
        results_name: Optional[str] = None,
        channels_last: bool = False,
        compile: bool = False,
        N_entropy: Optional[int] = None,
        ms_ssim_normalize: Literal["relu", "simple"] = "relu",
        weights: Optional[str] = None,
        latent_quantizer: Literal["noise", "ste"] = "noise",
        lr_scale: Optional[dict[str, float]] = None,
    ) -> None:
        super().__init__()
        if lr_scheduler_interval not in ("epoch", "step"):
            # any other value used to leave the scheduler unstepped, silently
            raise ConfigError(f"lr_scheduler_interval must be 'epoch' or 'step', got {lr_scheduler_interval!r}")
        self.eval_protocol = get_protocol(eval_protocol, "eval_protocol")
        # `weights` is a starting point, not a hyperparameter: a saved checkpoint must load
        # without that file (load_from_checkpoint calls __init__ with the saved hyperparameters)
        self.save_hyperparameters(ignore=["optimizer", "aux_optimizer", "lr_scheduler", "weights"])
        self.automatic_optimization = False
        self.optimizer_factory = optimizer
        self.aux_optimizer_factory = aux_optimizer
        self.lr_scheduler_factory = lr_scheduler

        self.model = build_lic_model(architecture, quality, N, M, N_entropy)
        if weights is not None:
            self._load_initial_weights(weights)
        set_latent_quantizer(self.model, latent_quantizer)
        self._check_lr_scale(lr_scale)
        self.lmbda = float(lmbda) if lmbda is not None else default_lambda(quality, distortion)
        self.criterion = RateDistortionLoss(self.lmbda, distortion, ms_ssim_normalize)
        self._ms_ssim_checked = False

        # validation metrics (torchmetrics objects: synced across ranks, reset each epoch)
        self.val_loss = MeanMetric()
        self.val_mse = MeanMetric()
        self.val_bpp = BitsPerPixel()
        self.val_psnr = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))
        self._test_rows: list[dict[str, Any]] = []
        # whether validation ran in the current training epoch (a plateau scheduler steps on fresh values only)
        self._validated_this_epoch = False
        # plain attribute, not a registered submodule: it must not duplicate the state dict
        object.__setattr__(self, "_compiled_model", None)

    def _load_initial_weights(self, weights: str) -> None:
        """Load the ``weights`` argument (a zoo name, state-dict file or checkpoint) into the network."""
        from jpegnn.zoo import load_weights, read_weights

        state = read_weights(weights, arg_name="weights")
        load_weights(self.model, state, arg_name="weights", source=weights)

    #: Trainer precisions that keep float32 weights (CompressAI's entropy models, their quantile
    #: refit and the rANS coder's CDF tables need float32; "-mixed" only autocasts the transforms)
    SUPPORTED_PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed")

    def setup(self, stage: str) -> None:
        # Before the strategy wraps the module in DDP: the quantiles are trained by the
        # data-independent aux loss after the network step (see the module docstring), not synced.
        quantiles = [f"model.{n}" for n, _ in self.model.named_parameters() if _is_quantile(n)]
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(self, quantiles)
        precision = str(getattr(self.trainer, "precision", "32-true"))
        if precision not in self.SUPPORTED_PRECISIONS:
            # "bf16-true"/"16-true"/"64-true" trained, then failed at the first checkpoint save or
            # test with "expected scalar type BFloat16 but found Float" inside CompressAI
            raise ConfigError(
                f"Trainer(precision={precision!r}) is not supported by {type(self).__name__}: the entropy "
                "models and the rANS coder need float32 weights. Use precision='bf16-mixed' (or "
                "'16-mixed', or '32-true')"
            )

    def configure_model(self) -> None:
        """Apply the GPU speed options once the module is on its device."""
        if self.hparams.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if self.hparams.compile and self._compiled_model is None:
            object.__setattr__(self, "_compiled_model", torch.compile(self.model))

    # ------------------------------------------------------------------ optimizers
    def _extra_network_parameters(self) -> list[torch.nn.Parameter]:
        """Trainable parameters outside ``self.model`` that the network optimizer also updates."""
        return []

    def _check_lr_scale(self, lr_scale: Optional[dict[str, float]]) -> None:
        if not lr_scale:
            return
        names = [n for n, _ in self.model.named_parameters() if not _is_quantile(n)]
        for prefix, factor in lr_scale.items():
            if not any(_under(n, prefix) for n in names):
                raise ConfigError(
                    f"lr_scale: {prefix!r} names no parameter of {type(self.model).__name__} "
                    f"(top-level modules: {', '.join(sorted({n.split('.')[0] for n in names}))})"
                )
            if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
                raise ConfigError(f"lr_scale: the factor of {prefix!r} must be a number > 0, got {factor!r}")

    def _network_param_groups(self, extra: list[torch.nn.Parameter]) -> list[dict[str, Any]]:
        """The network optimizer's param groups: one per ``lr_scale`` prefix, the rest in one."""
        scales = self.hparams.get("lr_scale") or {}
        groups: dict[str, list[torch.nn.Parameter]] = {prefix: [] for prefix in scales}
        rest: list[torch.nn.Parameter] = []
        for name, p in self.model.named_parameters():
            if _is_quantile(name):
                continue
            prefix = next((k for k in scales if _under(name, k)), None)
            (groups[prefix] if prefix is not None else rest).append(p)
        out = [{"params": rest + extra}]
        out += [{"params": ps, "lr_scale": float(scales[k]), "name": k} for k, ps in groups.items()]
        return out

    def configure_optimizers(self) -> Any:
        extra = self._extra_network_parameters()
        groups = self._network_param_groups(extra)
        net_params = [p for g in groups for p in g["params"]]
        aux_params = [p for n, p in self.model.named_parameters() if _is_quantile(n)]
        n_total = len(list(self.model.parameters())) + len(extra)
        assert len(net_params) + len(aux_params) == n_total, "net/aux parameter split must cover the model"
        net_arg = groups if len(groups) > 1 else net_params
        opt = (
            self.optimizer_factory(net_arg)
            if self.optimizer_factory is not None
            else torch.optim.Adam(net_arg, lr=1e-4)
        )
        for group in opt.param_groups:
            group["lr"] = group["lr"] * group.get("lr_scale", 1.0)
        aux = (
            self.aux_optimizer_factory(aux_params)
            if self.aux_optimizer_factory is not None
            else torch.optim.Adam(aux_params, lr=1e-3)
        )
        if self.lr_scheduler_factory is None:
            return [opt, aux]
        sched = self.lr_scheduler_factory(opt)
        # Stepped by hand (manual optimization): see on_train_epoch_end / training_step.
        return [opt, aux], [{"scheduler": sched}]

    def _scheduler(self):
        scheds = self.lr_schedulers()
        if scheds is None:
            return None
        return scheds[0] if isinstance(scheds, list) else scheds

    # ------------------------------------------------------------------ training
    def forward(self, x: Tensor) -> dict[str, Any]:
        return self.model(x)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        x = batch["image"]
        self._check_patch_size(x)
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        forward = self._compiled_model if self._compiled_model is not None else self.model
        out = forward(x)
        losses = self.criterion(out, x)
        return self._optimization_step(x, losses, batch_idx)

    def _optimization_step(
        self, x: Tensor, losses: dict[str, Tensor], batch_idx: int, extra_logged: Sequence[str] = ()
    ) -> Tensor:
        """One manual-optimization step on ``losses["loss"]`` plus the bottleneck's aux loss.

        Shared by every LIC training step (this module and :class:`DistillationModule`): non-finite
        check, the network's backward, clipping and step, then the aux loss's backward and step (in
        CompressAI's order), a step-interval scheduler, and logging on the steps the logger writes. ``losses`` must
        hold ``loss``, ``bpp`` (likelihood bits per pixel) and ``mse``; the keys in ``extra_logged``
        are logged as ``train/<key>`` too. Returns the detached loss.
        """
        opt, aux_opt = self.optimizers()
        self._stop_if_not_finite(losses["loss"], batch_idx)
        if "ms_ssim" in losses and not self._ms_ssim_checked:
            self._ms_ssim_checked = True
            self._warn_if_ms_ssim_has_no_gradient(losses["ms_ssim"])

        # CompressAI's examples/train.py, step for step: both zero_grad, loss.backward(), clip,
        # optimizer.step(), then aux_loss on the updated densities, aux_loss.backward(), aux step.
        opt.zero_grad(set_to_none=True)
        aux_opt.zero_grad(set_to_none=True)
        self.manual_backward(losses["loss"])
        # gradient clipping happens in on_before_optimizer_step: after the AMP unscaling
        self._clip_pending = self.hparams.clip_max_norm > 0
        try:
            opt.step()  # counted: global_step advances once per batch
        finally:
            self._clip_pending = False
        with torch.autocast(device_type=x.device.type, enabled=False):
            aux_loss = self.model.aux_loss()
        if not bool(torch.isfinite(aux_loss.detach())):
            # same value on every rank (data-independent, synchronised densities): no collective needed
            raise TrainingError(
                f"non-finite aux loss at global step {self.global_step} (epoch {self.current_epoch}, "
                f"batch {batch_idx}): aux_loss={float(aux_loss.detach()):.4g}. Training stopped; the last "
                "good checkpoint (last.ckpt) is untouched. Lower the aux optimizer's learning rate."
            )
        # float32, unscaled even under fp16 AMP (no activations involved), quantiles only; stepped
        # without Lightning's step counter or precision plugin (no GradScaler unscaling/update)
        aux_loss.backward()
        aux_opt.optimizer.step()

        sched = self._scheduler()
        if (
            sched is not None
            and self.hparams.lr_scheduler_interval == "step"
            and not isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
        ):
            sched.step()

        if self._is_logging_step():
            # each self.log call costs ~1 ms of Lightning bookkeeping: log only on the steps the
            # logger writes (every trainer.log_every_n_steps), not on every batch
            bs = x.shape[0]
            values = {"train/loss": losses["loss"]}
            values.update({f"train/{key}": losses[key] for key in extra_logged})
            values.update({
                "train/bpp_estimated": losses["bpp"],
                "train/mse": losses["mse"],
                "train/aux_loss": aux_loss,
            })
            if "ms_ssim" in losses:
                values["train/ms_ssim"] = losses["ms_ssim"]
            for name, value in values.items():
                self.log(name, value.detach(), prog_bar=name in ("train/loss", "train/bpp_estimated"), batch_size=bs)
            self.log("train/lr", float(opt.param_groups[0]["lr"]), batch_size=bs)
        return losses["loss"].detach()

    def _warn_if_ms_ssim_has_no_gradient(self, ms_ssim: Tensor) -> None:
        """Standard MS-SSIM of an untrained decoder is exactly 0 (negative contrast terms are
        clamped), and so is its gradient: only the rate term would train. Said once, at the first
        step, with the two ways out."""
        if self.criterion.ms_ssim_normalize == "relu" and float(ms_ssim.detach()) == 0.0:
            rank_zero_warn(
                "MS-SSIM is exactly 0 at the first training step (the decoder's output shares no structure "
                "with the input yet), so the distortion term has no gradient: only the rate (and any KD terms) "
                "train, and it can stay at 0. "
                "Start from an MSE-trained checkpoint (fine-tune), or set "
                "--model.init_args.ms_ssim_normalize simple (a surrogate with a gradient from the first step)."
            )

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning calls this inside opt.step(), after unscaling the gradients under fp16 AMP:
        # clipping before opt.step() would clip the *scaled* gradients (to max_norm/S once unscaled).
        if getattr(self, "_clip_pending", False):
            self._clip_pending = False
            self.clip_gradients(optimizer, gradient_clip_val=self.hparams.clip_max_norm, gradient_clip_algorithm="norm")

    def _is_logging_step(self) -> bool:
        """True on the batches whose logged values Lightning's logger actually writes."""
        trainer = self.trainer
        every = max(int(getattr(trainer, "log_every_n_steps", 1) or 1), 1)
        # after opt.step() global_step already counts this batch
        return self.global_step % every == 0 or self.global_step == 1 or trainer.fast_dev_run

    def _check_patch_size(self, x: Tensor) -> None:
        multiple = padding_multiple(self.model)
        h, w = x.shape[-2:]
        if h % multiple or w % multiple:
            raise ConfigError(
                f"training patches must be multiples of {multiple} pixels for {self.hparams.architecture} "
                f"(got {h}x{w}); set the data module's patch_size accordingly"
            )

    def _stop_if_not_finite(self, loss: Tensor, batch_idx: int) -> None:
        bad = not bool(torch.isfinite(loss.detach()))
        # every rank must agree, or the healthy ranks would wait forever in the next all-reduce
        bad = self.trainer.strategy.reduce_boolean_decision(bad, all=False)
        if bad:
            raise TrainingError(
                f"non-finite loss at global step {self.global_step} (epoch {self.current_epoch}, "
                f"batch {batch_idx}): loss={float(loss.detach()):.4g}. "
                "Training stopped; the last good checkpoint (last.ckpt) is untouched. "
                "Lower the learning rate or λ, or check the input data."
            )

    def on_train_epoch_start(self) -> None:
        self._validated_this_epoch = False

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._validated_this_epoch = True

    def on_train_epoch_end(self) -> None:
        # Runs after the epoch's validation, so a plateau scheduler sees this epoch's val metric.
        sched = self._scheduler()
        if sched is None:
            return
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self._step_plateau(sched)
        elif self.hparams.lr_scheduler_interval == "epoch":
            sched.step()

    def _step_plateau(self, sched: torch.optim.lr_scheduler.ReduceLROnPlateau) -> None:
        monitor = self.hparams.lr_scheduler_monitor
        metrics = self.trainer.callback_metrics
        value = metrics.get(monitor)
        if value is None:
            if self._validated_this_epoch:
                # the epoch's metrics are all logged by now: the key does not exist (a typo such as
                # "val_loss" for "val/loss" used to leave the learning rate constant, silently)
                raise ConfigError(
                    f"lr_scheduler_monitor={monitor!r} is not a logged metric, so ReduceLROnPlateau "
                    f"cannot step; logged metrics: {', '.join(sorted(metrics)) or 'none'}"
                )
            # no validation in this epoch (check_val_every_n_epoch > 1, or none configured)
            rank_zero_warn(
                f"ReduceLROnPlateau did not step after epoch {self.current_epoch}: no value of "
                f"lr_scheduler_monitor={monitor!r} (no validation ran in this epoch)"
            )
            return
        if monitor.startswith("val") and not self._validated_this_epoch:
            # the value left from an earlier validation: stepping on it again would count one
            # measurement as several epochs of patience
            return
        sched.step(float(value))

    # ------------------------------------------------------------------ validation
    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x = batch["image"]
        h, w = x.shape[-2:]
        x_pad, _ = pad_to_multiple(x, padding_multiple(self.model))
        out = self.model(x_pad)
        x_hat = crop_to(out["x_hat"], (h, w))
        losses = self.criterion({"x_hat": x_hat, "likelihoods": out["likelihoods"]}, x)
        bits = bits_from_likelihoods(out["likelihoods"]).sum()
        bs = x.shape[0]
        self.val_loss.update(losses["loss"], weight=bs)
        self.val_mse.update(losses["mse"], weight=bs)
        self.val_bpp.update(bits, bs * h * w)
        self.val_psnr.update(x_hat.clamp(0, 1), x)
        self.log("val/loss", self.val_loss, prog_bar=True, batch_size=bs)
        self.log("val/mse", self.val_mse, batch_size=bs)
        self.log("val/bpp_estimated", self.val_bpp, prog_bar=True, batch_size=bs)
        self.log("val/psnr", self.val_psnr, prog_bar=True, batch_size=bs)
        if batch_idx == 0:
            self._log_images("val/reconstruction", x, x_hat.clamp(0, 1))

    # ------------------------------------------------------------------ entropy models
    def update_entropy_models(self) -> None:
        """Rebuild the CDF tables saved with a checkpoint (after a quantile refit if ``refit_quantiles``)."""
        # on_test_start/predict_step run inside Lightning's torch.inference_mode(): CDF buffers made
        # there would be inference tensors, which no checkpoint can be loaded into afterwards
        # ("Inplace update to inference tensor outside InferenceMode")
        with torch.inference_mode(False), torch.no_grad():
            self.model.update(force=True, update_quantiles=bool(self.hparams.refit_quantiles))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lightning collected the state dict before this hook: refresh the entropy-model entries.
        self.update_entropy_models()
        state = self.state_dict()
        for key in list(checkpoint.get("state_dict", {})):
            if key.endswith(CDF_BUFFERS) or _is_quantile(key):
                checkpoint["state_dict"][key] = state[key]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # CDF buffers change size with the fitted model: take the checkpoint's shapes first
        match_cdf_buffers(self, checkpoint.get("state_dict", {}))

    # ------------------------------------------------------------------ test (real bitstreams)
    def on_test_start(self) -> None:
        prepare_entropy_models(self.model, self.eval_protocol)
        self._test_rows = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        images, names = batch["image"], batch["name"]
        for i in range(images.shape[0]):
            row = evaluate_image(self.model, images[i : i + 1], str(names[i]), self.eval_protocol)
            x_hat = row.pop("x_hat")
            self._test_rows.append(row)
            if len(self._test_rows) <= self.hparams.num_log_images:
                self._log_images(f"test/{row['image']}", images[i : i + 1], x_hat)

    def on_test_epoch_end(self) -> None:
        rows = gather_rows(self._test_rows)
        if not rows:
            return
        mean = summarize(rows)
        # identical on every rank after the gather: no further sync needed
        for key, name in (
            ("bpp", "test/bpp_actual"),
            ("bpp_estimated", "test/bpp_estimated"),
            ("psnr_rgb", "test/psnr_rgb"),
            ("ms_ssim_rgb", "test/ms_ssim_rgb"),
            ("encoding_time", "test/encoding_time_s"),
            ("decoding_time", "test/decoding_time_s"),
        ):
            if key in mean and not math.isnan(mean[key]):
                self.log(name, mean[key], sync_dist=False)
        self.test_results = {"rows": rows, "mean": mean}
        out_dir = run_dir(self.trainer)
        self._write_results(out_dir, rows)

    @rank_zero_only
    def _write_results(self, out_dir: Path, rows: list[dict[str, Any]]) -> None:
        name = self.hparams.results_name or f"{self.hparams.architecture}-q{self.hparams.quality}"
        n_params = sum(p.numel() for p in self.model.parameters())
        desc = (
            f"jpegnn LICModule {self.hparams.architecture} quality={self.hparams.quality} "
            f"lambda={self.lmbda} distortion={self.hparams.distortion} params={n_params}; "
            "bpp = actual rANS bitstream bytes x 8 / original pixels (CompressAI coder), "
            f"metrics on 8-bit decoded images; {self.eval_protocol.describe()}"
        )
        results = compressai_results(name, desc, [rows])
        results["protocol"] = self.eval_protocol.name
        write_results_json(out_dir / "results.json", results)
        write_per_image_csv(out_dir / "per_image.csv", rows, extra_fields=["decode_max_abs_diff", "bytes"])
        log.info("wrote %s and %s", out_dir / "results.json", out_dir / "per_image.csv")

    # ------------------------------------------------------------------ predict
    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        """Real coding of each image: returns name, decoded image, actual and estimated bpp."""
        if batch_idx == 0:
            prepare_entropy_models(self.model, self.eval_protocol)
        results = []
        for i in range(batch["image"].shape[0]):
            row = evaluate_image(self.model, batch["image"][i : i + 1], str(batch["name"][i]), self.eval_protocol)
            results.append(row)
        return results

    # ------------------------------------------------------------------ helpers
    def _log_images(self, tag: str, x: Tensor, x_hat: Tensor) -> None:
        if self.hparams.num_log_images <= 0 or self.logger is None:
            return
        experiment = getattr(self.logger, "experiment", None)
        if experiment is None or not hasattr(experiment, "add_images"):
            return
        n = min(self.hparams.num_log_images, x.shape[0])
        grid = torch.cat([x[:n], x_hat[:n]], dim=0).detach().float().clamp(0, 1).cpu()
        experiment.add_images(tag, grid, self.global_step)
