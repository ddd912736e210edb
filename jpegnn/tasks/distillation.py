"""Knowledge distillation (KD): narrow students of learned codecs and of a plain autoencoder.

:class:`DistillationModule` trains a student codec — a normal :class:`~jpegnn.tasks.lic.LICModule`
network with fewer channels N — from a frozen teacher:

* **teacher**: a ``jpegnn fit`` checkpoint (``teacher_ckpt``), or a CompressAI zoo model named like
  ``compressai.zoo`` (``teacher_zoo`` + ``teacher_quality`` + ``teacher_metric``) whose weights
  come from a local state-dict file (``teacher_weights``; verified against the zoo file-name hash
  when the file keeps its zoo name; downloaded only when ``teacher_download`` is true; see
  :mod:`jpegnn.models.lic.zoo`). **Hybrid** mode adds a *rate* teacher (``rate_teacher_ckpt`` or
  ``rate_teacher_quality``) that supplies the hyper-latent target ``z`` while the main
  (distortion) teacher supplies ``y`` and ``x_hat``. The KD logbook's hybrid run (16/05/2025) used
  "pre-trained teacher quality r,d=1,5" (rate teacher quality 1, distortion teacher quality 5)
  without saying which teacher gave which target; the split is our choice: ``z`` carries the side
  information and sets the entropy model's scales (rate), ``y`` and ``x_hat`` the reconstruction.
* the teacher is **frozen**: eval mode, ``requires_grad_(False)``, run under ``no_grad``. It is
  kept *outside* the module tree (a plain attribute, not a submodule), so it is never in
  ``state_dict()``/the checkpoint, never in an optimizer, never switched to training mode by
  Lightning's ``.train()``, and loading the student checkpoint never needs the teacher. It is
  read in ``__init__`` only while some student hyperparameter still has to come from it (the first
  run of a config); a module rebuilt from its checkpoint has them all and loads the teacher only
  when training starts (``setup("fit")``).
* **student**: same family, ``N`` given, ``M`` = the teacher's latent channels by default (latent
  terms compare like with like; a different M gets a learned 1x1 adapter ``y_adapter`` from the
  student's to the teacher's channels), and ``N_entropy`` = the teacher's ``z`` channels by
  default (the hyper branch no longer follows N: the logbook's "entropy bottleneck size depends on
  N" issue of 11/05/2025, fixed there by "define N_entropy for student"). Values read
  from the teacher are written into the hyperparameters, so the checkpoint is self-contained.
* **loss**: ``w_y·D(y) + w_z·D(z) + w_x·MSE(x_hat) + w_rd·RD_λ`` with ``D`` = MSE, cosine or KL on
  channel softmax (:mod:`jpegnn.losses.distillation` defines the weight tuples and units). Each term
  is logged on its own: ``train/kd_y``, ``train/kd_z``, ``train/kd_x``, ``train/rd``, plus
  LICModule's ``train/loss``, ``train/bpp_estimated``, ``train/mse``, ``train/aux_loss``.
* validation (``val/loss`` is the student's RD loss: what a plateau scheduler and "best"
  checkpoints should follow), test (real rANS bitstreams, ``results.json``), prediction, CDF
  updates on save and the two optimizers are LICModule's, applied to the student. Each checkpoint also carries
  ``checkpoint["jpegnn_student"]`` (the student's LICModule arguments), so
  :func:`jpegnn.tasks.loading.load_module` (``jpegnn compress``/``bench --ckpt``/``test``)
  turns it into a plain LICModule (:func:`student_from_checkpoint`).

:class:`AutoencoderDistillationModule` is our version of the KD logbook's first experiment ("Apply
KD to simple AE", December 2024; a denoising teacher/student AE at first, then, from 18/12/2024,
"reconstruction (instead of denoising) ie: learn identity function"): a wide reconstruction-only
autoencoder (trained by the same module without a teacher) distilled into a narrow one
(:class:`~jpegnn.models.autoencoder.ConvAutoencoder`).
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.image import PeakSignalNoiseRatio

from jpegnn.coding.padding import crop_to, pad_to_multiple
from jpegnn.errors import CheckpointError, ConfigError, check_positive_int, one_line_error
from jpegnn.losses.distillation import KDWeights, check_temperature, distillation_objective, latent_distillation, mse_distillation, parse_kd_weights
from jpegnn.models.autoencoder import ConvAutoencoder
from jpegnn.models.lic.buffers import match_cdf_buffers
from jpegnn.models.lic.registry import ARCHITECTURES
from jpegnn.models.lic.students import forward_with_latents, latent_channels
from jpegnn.tasks.lic import LICModule
from jpegnn.utils.distributed import gather_rows, run_dir

log = logging.getLogger(__name__)

__all__ = [
    "DistillationModule",
    "AutoencoderDistillationModule",
    "TeacherNetwork",
    "freeze",
    "load_teacher",
    "student_from_checkpoint",
    "STUDENT_KEY",
]

#: checkpoint entry holding the student's LICModule arguments (see :func:`student_from_checkpoint`)
STUDENT_KEY = "jpegnn_student"
#: LICModule arguments stored under STUDENT_KEY (all primitive: weights_only-safe)
_STUDENT_ARGS = (
    "architecture", "quality", "N", "M", "N_entropy", "lmbda", "distortion",
    "clip_max_norm", "refit_quantiles", "eval_protocol", "num_log_images", "results_name",
)


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad_(False)`` on every parameter; returns ``model``."""
    model.eval()
    model.requires_grad_(False)
    return model


@dataclass
class TeacherNetwork:
    """A frozen teacher network and what the student inherits from it.

    Attributes:
        model: The CompressAI network (eval mode, no gradients).
        source: Human-readable origin (checkpoint path or zoo name + file).
        architecture: jpegnn architecture name when the network is one (else None).
        quality: Its quality preset (jpegnn hparam or zoo quality), if known.
        lmbda: λ it was trained with, if known.
        distortion: ``"mse"`` or ``"ms-ssim"``.
        y_channels, z_channels: Channels of its latent ``y`` and hyper-latent ``z`` (None: no z).
    """

    model: nn.Module
    source: str
    architecture: Optional[str]
    quality: Optional[int]
    lmbda: Optional[float]
    distortion: str
    y_channels: int
    z_channels: Optional[int]
    extra: dict[str, Any] = field(default_factory=dict)


def _read_checkpoint(path: str | os.PathLike, arg_name: str) -> dict[str, Any]:
    """A Lightning checkpoint as a dict (``weights_only``), or a CheckpointError naming ``arg_name``."""
    from jpegnn.utils.checkpoints import read_torch_file

    path = Path(path)
    ckpt = read_torch_file(path, arg_name=arg_name)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise CheckpointError(f"{arg_name}: {path} is not a Lightning checkpoint written by jpegnn (no state_dict)")
    return ckpt


def _load_network(network: nn.Module, state: dict[str, Tensor], path: Path, arg_name: str) -> nn.Module:
    """Load ``state`` into ``network`` strictly, its entropy-model buffers (CDF tables) sized first."""
    match_cdf_buffers(network, state)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{arg_name}: {path} does not fit its own hyperparameters ({one_line_error(exc)})") from None
    return network


def _lic_network_from_checkpoint(path: str | os.PathLike, arg_name: str) -> tuple[nn.Module, dict[str, Any]]:
    """The CompressAI network of an LICModule (or KD student) checkpoint and its arguments.

    The network is built from the checkpoint's hyperparameters with
    :func:`~jpegnn.models.lic.build_lic_model` and its ``model.*`` weights, without constructing a
    LightningModule: a module built inside another module's ``__init__`` while LightningCLI
    instantiates it would inherit the outer module's hyperparameters (Lightning's
    ``_given_hyperparameters`` context).
    """
    from jpegnn.models.lic.registry import build_lic_model, default_lambda

    ckpt = _read_checkpoint(path, arg_name)
    args = ckpt.get(STUDENT_KEY) or ckpt.get("hyper_parameters") or {}
    if "architecture" not in args:
        raise CheckpointError(f"{arg_name}: {path} is not an LICModule checkpoint (no 'architecture' hyperparameter)")
    quality = int(args.get("quality") or 3)
    distortion = args.get("distortion") or "mse"
    network = build_lic_model(args["architecture"], quality, args.get("N"), args.get("M"), args.get("N_entropy"))
    state = {k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    _load_network(network, state, Path(path), arg_name)
    lmbda = args.get("lmbda")
    info = {
        "architecture": args["architecture"], "quality": quality, "distortion": distortion,
        "lmbda": float(lmbda) if lmbda is not None else default_lambda(quality, distortion),
    }
    return network, info


def load_teacher(
    ckpt: Optional[str] = None,
    zoo: Optional[str] = None,
    quality: Optional[int] = None,
    metric: str = "mse",
    weights: Optional[str] = None,
    download: bool = False,
    arg_prefix: str = "teacher",
) -> TeacherNetwork:
    """Load and freeze a teacher: a jpegnn checkpoint (``ckpt``) or a zoo model (``zoo``, ``quality``).

    A jpegnn checkpoint may hold an LICModule or a KD student (a student can teach). ``arg_prefix``
    names the user's arguments in error messages (``teacher``/``rate_teacher``).
    """
    from jpegnn.models.lic.zoo import load_zoo_model, zoo_lambda

    if ckpt is not None:
        network, info = _lic_network_from_checkpoint(ckpt, f"{arg_prefix}_ckpt")
        model = freeze(network)
        y_ch, z_ch = latent_channels(model)
        return TeacherNetwork(
            model, str(ckpt), info["architecture"], info["quality"], info["lmbda"], info["distortion"], y_ch, z_ch,
        )
    if zoo is None or quality is None:
        raise ConfigError(f"{arg_prefix}: give {arg_prefix}_ckpt, or a zoo architecture and quality")
    model = freeze(load_zoo_model(zoo, int(quality), metric, weights, download, arg_name=f"{arg_prefix}_weights",
                                  download_flag="teacher_download=true"))
    y_ch, z_ch = latent_channels(model)
    return TeacherNetwork(
        model, f"CompressAI zoo {zoo} quality {quality} ({metric}) from {weights or 'the torch.hub cache'}",
        zoo if zoo in ARCHITECTURES else None, int(quality), zoo_lambda(int(quality), metric), metric, y_ch, z_ch,
    )


def student_from_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> LICModule:
    """The student of a :class:`DistillationModule` checkpoint as a plain :class:`LICModule`.

    Builds ``LICModule(**checkpoint["jpegnn_student"])``, resizes its entropy-model buffers to the
    checkpoint's and loads the ``model.*`` weights (strictly: every student weight must be there).
    The teacher is not needed (it was never saved); adapters are training-only and dropped.
    """
    args = checkpoint.get(STUDENT_KEY)
    if not isinstance(args, dict):
        raise CheckpointError(f"{path} is not a DistillationModule checkpoint (no {STUDENT_KEY!r} entry)")
    try:
        module = LICModule(**{k: v for k, v in args.items() if k in _STUDENT_ARGS})
    except TypeError as exc:
        raise CheckpointError(f"{path}: student arguments {args} do not build an LICModule ({exc})") from None
    state = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    module.on_load_checkpoint({"state_dict": state})
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: the student weights do not fit its LICModule arguments ({one_line_error(exc)})") from None
    return module


class DistillationModule(LICModule):
    """A student codec trained from a frozen teacher (see the module docstring).

    Args:
        teacher_ckpt: jpegnn checkpoint of the (distortion) teacher (an LICModule, or a KD student).
        teacher_zoo: instead, a CompressAI zoo architecture (``bmshj2018-hyperprior``, ...).
        teacher_quality: zoo quality (1..8; cheng2020: 1..6).
        teacher_metric: zoo weights' metric, ``"mse"`` or ``"ms-ssim"``.
        teacher_weights: local state-dict file of the zoo teacher, or a folder holding the zoo file
            name (default: torch.hub's cache folder).
        rate_teacher_ckpt: hybrid mode: jpegnn checkpoint of the rate teacher (target of ``z``).
        rate_teacher_quality: hybrid mode with a zoo teacher: quality of the rate teacher (same zoo
            architecture and metric as the main teacher).
        rate_teacher_weights: local state-dict file (or folder) of the zoo rate teacher.
        teacher_download: allow downloading missing zoo weights from the CompressAI URL (torch.hub,
            hash-checked). Off by default: nothing is downloaded unless asked.
        kd_weights: ``(w_y, w_x, w_rd)``, ``(w_y, w_z, w_x, w_rd)`` or ``(w_y, w_z, w_x, w_rd, λ)``
            (:mod:`jpegnn.losses.distillation`). A 5th value sets the RD λ.
        latent_loss: distance on ``y`` and ``z``: ``"mse"``, ``"cosine"`` or ``"kl"`` (channel softmax).
        kl_temperature: softmax temperature T of ``"kl"`` (the loss is scaled by T²).
        kd_quantized_latents: compare ``y_hat``/``z_hat`` (what ``g_s``/``h_s`` see: noisy for the
            student in training, rounded for the eval-mode teacher) instead of the unquantized
            ``y``/``z``. The default (true) is our choice, not the logbook's, which says only
            "latent loss" and "hyper-latent loss": the quantized latents are what the decoder
            receives from the bitstream, so the term targets the representation the student
            actually transmits, and the student's ``y_hat`` (``y`` plus noise) still trains ``g_a``.
        architecture: student architecture (default: the teacher's).
        quality: student quality preset (default: the teacher's; sets N/M/λ defaults).
        N: student width (required): channels of ``g_a``/``g_s``.
        M: student latent channels (default: the teacher's; otherwise a 1x1 adapter is learned).
        N_entropy: student hyper-branch width (default: the teacher's ``z`` channels; hyperprior
            family only). A different value gets a 1x1 adapter for the ``z`` term.
        lmbda: RD λ (default: the 5th KD weight, else the distortion teacher's λ).
        distortion: ``"mse"`` or ``"ms-ssim"`` (default: the teacher's).
        teacher_M, teacher_N_entropy: the teacher's ``y``/``z`` channels. Filled in from the teacher
            and saved; set them only to build the module without reading the teacher.
        optimizer, aux_optimizer, lr_scheduler, lr_scheduler_interval, lr_scheduler_monitor,
        clip_max_norm, refit_quantiles, eval_protocol, num_log_images, channels_last: as :class:`LICModule`
            (the net optimizer also trains the adapters).
        results_name: ``name`` in ``results.json`` (default ``kd-<architecture>-N<N>``).
    """

    def __init__(
        self,
        teacher_ckpt: Optional[str] = None,
        teacher_zoo: Optional[str] = None,
        teacher_quality: Optional[int] = None,
        teacher_metric: Literal["mse", "ms-ssim"] = "mse",
        teacher_weights: Optional[str] = None,
        rate_teacher_ckpt: Optional[str] = None,
        rate_teacher_quality: Optional[int] = None,
        rate_teacher_weights: Optional[str] = None,
        teacher_download: bool = False,
        kd_weights: tuple[float, ...] = (0.2, 0.2, 0.2, 0.4),
        latent_loss: Literal["mse", "cosine", "kl"] = "mse",
        kl_temperature: float = 1.0,
        kd_quantized_latents: bool = True,
        architecture: Optional[str] = None,
        quality: Optional[int] = None,
        N: Optional[int] = None,
        M: Optional[int] = None,
        N_entropy: Optional[int] = None,
        lmbda: Optional[float] = None,
        distortion: Optional[Literal["mse", "ms-ssim"]] = None,
        teacher_M: Optional[int] = None,
        teacher_N_entropy: Optional[int] = None,
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
    ) -> None:
        spec = _TeacherSpec(
            teacher_ckpt, teacher_zoo, teacher_quality, teacher_metric, teacher_weights,
            rate_teacher_ckpt, rate_teacher_quality, rate_teacher_weights, teacher_download,
        )
        spec.validate()
        kd = parse_kd_weights(kd_weights)
        if latent_loss not in ("mse", "cosine", "kl"):
            raise ConfigError(f"latent_loss must be 'mse', 'cosine' or 'kl', got {latent_loss!r}")
        if N is None:
            raise ConfigError("DistillationModule: give the student's width N (e.g. N: 64)")
        for name, value in (("N", N), ("M", M), ("N_entropy", N_entropy)):
            check_positive_int("DistillationModule", name, value, allow_none=True)
        check_temperature(kl_temperature)
        if kd.lmbda is not None and lmbda is not None and not math.isclose(kd.lmbda, lmbda):
            raise ConfigError(f"lmbda={lmbda} conflicts with the RD λ {kd.lmbda} given as 5th value of kd_weights")

        # Values inherited from the teacher(s): read them only if something is unresolved.
        teachers: Optional[_Teachers] = None
        needs_teacher = (
            architecture is None or quality is None or M is None or distortion is None
            or (lmbda is None and kd.lmbda is None)
            or teacher_M is None or (kd.z > 0 and teacher_N_entropy is None)
        )
        if needs_teacher:
            teachers = spec.load()
            d = teachers.distortion
            if architecture is None:
                if d.architecture is None:
                    raise ConfigError(
                        f"teacher {d.source} is not a jpegnn architecture: give the student's architecture"
                    )
                architecture = d.architecture
            quality = quality if quality is not None else (d.quality if d.quality in range(1, 9) else 3)
            M = M if M is not None else d.y_channels
            distortion = distortion if distortion is not None else d.distortion  # type: ignore[assignment]
            if lmbda is None and kd.lmbda is None:
                lmbda = d.lmbda
            teacher_M = teacher_M if teacher_M is not None else d.y_channels
            z_source = teachers.rate or d
            if teacher_N_entropy is None:
                teacher_N_entropy = z_source.z_channels
        if lmbda is None:
            lmbda = kd.lmbda
        if kd.z > 0 and teacher_N_entropy is None:
            raise ConfigError("kd_weights give the hyper-latent z a weight, but the teacher has no z (factorized prior)")
        if N_entropy is None and teacher_N_entropy is not None and architecture in ("bmshj2018-hyperprior", "mbt2018-mean"):
            N_entropy = int(teacher_N_entropy)
        results_name = results_name or f"kd-{architecture}-N{N}"

        super().__init__(
            architecture=str(architecture), quality=int(quality), N=int(N), M=int(M), lmbda=lmbda,
            distortion=distortion or "mse", optimizer=optimizer, aux_optimizer=aux_optimizer,
            lr_scheduler=lr_scheduler, lr_scheduler_interval=lr_scheduler_interval,
            lr_scheduler_monitor=lr_scheduler_monitor, clip_max_norm=clip_max_norm,
            refit_quantiles=refit_quantiles, eval_protocol=eval_protocol, num_log_images=num_log_images,
            results_name=results_name, channels_last=channels_last, compile=False, N_entropy=N_entropy,
        )
        # Hyperparameters as resolved (the CLI stores the config's values, LICModule's frame its
        # own): the checkpoint then rebuilds this exact student without reading the teacher.
        self.hparams.update(
            architecture=str(architecture), quality=int(quality), N=int(N), M=int(M), N_entropy=N_entropy,
            lmbda=self.lmbda, distortion=distortion or "mse",
            teacher_M=None if teacher_M is None else int(teacher_M),
            teacher_N_entropy=None if teacher_N_entropy is None else int(teacher_N_entropy),
            results_name=results_name, kd_weights=tuple(float(v) for v in kd_weights),
        )
        # LICModule's ``compile`` is not an argument here (the student trains eagerly: its latents
        # are read with forward hooks); dropped so a checkpoint's hparams match this signature.
        self.hparams.pop("compile", None)
        self.kd: KDWeights = kd
        self._spec = spec

        # 1x1 adapters from the student's channels to the teacher's (training only, not in the codec)
        student_y, student_z = latent_channels(self.model)
        self.y_adapter = (
            nn.Conv2d(student_y, int(teacher_M), 1) if kd.y > 0 and teacher_M is not None and student_y != teacher_M else None
        )
        self.z_adapter = (
            nn.Conv2d(int(student_z), int(teacher_N_entropy), 1)
            if kd.z > 0 and student_z is not None and teacher_N_entropy is not None and student_z != teacher_N_entropy
            else None
        )
        if kd.z > 0 and student_z is None:
            raise ConfigError(f"kd_weights give z a weight, but the student architecture {architecture!r} has no z")
        if teachers is not None:  # explicit teacher_M / teacher_N_entropy must fit the teacher just read
            self._check_teacher_channels(teachers)
        # plain attribute, not a submodule: never saved, never trained, never switched to train()
        object.__setattr__(self, "_teachers", teachers)

    def configure_model(self) -> None:
        """LICModule's channels-last option (no ``torch.compile``: latents come from forward hooks)."""
        if self.hparams.channels_last:
            self.model.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ teacher
    @property
    def teachers(self) -> "_Teachers":
        """The frozen teacher(s), loaded on first use (``setup("fit")`` in training)."""
        if self._teachers is None:
            object.__setattr__(self, "_teachers", self._spec.load())
            self._check_teacher_channels(self._teachers)
        return self._teachers  # type: ignore[return-value]

    @property
    def teacher(self) -> nn.Module:
        """The (distortion) teacher network."""
        return self.teachers.distortion.model

    @property
    def rate_teacher(self) -> Optional[nn.Module]:
        """The rate teacher network (hybrid mode), else None."""
        rate = self.teachers.rate
        return None if rate is None else rate.model

    def _check_teacher_channels(self, teachers: "_Teachers") -> None:
        hp = self.hparams
        d, z_source = teachers.distortion, teachers.rate or teachers.distortion
        if hp.teacher_M is not None and d.y_channels != hp.teacher_M:
            raise ConfigError(
                f"teacher {d.source} has {d.y_channels} latent channels, but this student was built for "
                f"teacher_M={hp.teacher_M}"
            )
        if self.kd.z > 0 and hp.teacher_N_entropy is not None and z_source.z_channels != hp.teacher_N_entropy:
            raise ConfigError(
                f"teacher {z_source.source} has {z_source.z_channels} hyper-latent channels, but this student "
                f"was built for teacher_N_entropy={hp.teacher_N_entropy}"
            )

    def setup(self, stage: str) -> None:
        super().setup(stage)  # precision check; quantiles left out of DDP's gradient sync
        if stage == "fit":
            self.teachers  # noqa: B018 - load now: a bad teacher path fails before training starts

    def _teacher_networks(self, device: torch.device) -> tuple[nn.Module, Optional[nn.Module]]:
        teachers = self.teachers
        nets = [teachers.distortion.model] + ([teachers.rate.model] if teachers.rate is not None else [])
        for net in nets:
            if net.training:  # nothing should switch it, but a frozen teacher must never train
                net.eval()
            p = next(net.parameters())
            if p.device != device:
                net.to(device)
        return nets[0], (nets[1] if len(nets) > 1 else None)

    @torch.no_grad()
    def teacher_targets(self, x: Tensor) -> dict[str, Optional[Tensor]]:
        """The teacher's ``y``, ``z`` and ``x_hat`` for ``x`` (constants: computed without gradients).

        In hybrid mode ``z`` comes from the rate teacher, ``y`` and ``x_hat`` from the distortion
        teacher. ``y``/``z`` are the quantized ``y_hat``/``z_hat`` when ``kd_quantized_latents``.
        """
        distortion, rate = self._teacher_networks(x.device)
        yk, zk = ("y_hat", "z_hat") if self.hparams.kd_quantized_latents else ("y", "z")
        lat = forward_with_latents(distortion, x)
        out = {"y": lat[yk], "z": lat[zk], "x_hat": lat["x_hat"]}
        if rate is not None and self.kd.z > 0:
            out["z"] = forward_with_latents(rate, x)[zk]
        return out

    def student_outputs(self, x: Tensor) -> dict[str, Any]:
        """The student's forward with latents, ``y``/``z`` mapped by the adapters when present."""
        yk, zk = ("y_hat", "z_hat") if self.hparams.kd_quantized_latents else ("y", "z")
        lat = forward_with_latents(self.model, x)
        y, z = lat[yk], lat[zk]
        if self.y_adapter is not None and y is not None:
            y = self.y_adapter(y)
        if self.z_adapter is not None and z is not None:
            z = self.z_adapter(z)
        return {**lat, "kd_y": y, "kd_z": z}

    # ------------------------------------------------------------------ optimizers
    def _extra_network_parameters(self) -> list[nn.Parameter]:
        """The 1x1 latent adapters: LICModule's network optimizer trains them with the student."""
        return [p for m in (self.y_adapter, self.z_adapter) if m is not None for p in m.parameters()]

    # ------------------------------------------------------------------ training
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        x = batch["image"]
        self._check_patch_size(x)
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        targets = self.teacher_targets(x)
        out = self.student_outputs(x)
        rd = self.criterion(out, x)
        losses = distillation_objective(
            self.kd, rd, {"y": out["kd_y"], "z": out["kd_z"], "x_hat": out["x_hat"]}, targets,
            self.hparams.latent_loss, self.hparams.kl_temperature,
        )
        # LICModule's optimization step (aux loss, both optimizers, scheduler), each KD term logged
        return self._optimization_step(x, losses, batch_idx, extra_logged=("rd", "kd_y", "kd_z", "kd_x"))

    # ------------------------------------------------------------------ checkpoints
    def student_arguments(self) -> dict[str, Any]:
        """The student's :class:`LICModule` arguments (primitive values only)."""
        return {k: self.hparams.get(k) for k in _STUDENT_ARGS}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)  # fresh CDFs, as LICModule
        state = checkpoint.get("state_dict", {})
        for key in [k for k in state if k.startswith(("teacher", "_teacher", "rate_teacher"))]:
            del state[key]  # defensive: the teacher is never a submodule
        checkpoint[STUDENT_KEY] = self.student_arguments()


@dataclass
class _Teachers:
    distortion: TeacherNetwork
    rate: Optional[TeacherNetwork] = None


@dataclass
class _TeacherSpec:
    """The teacher arguments of :class:`DistillationModule` (paths and names only)."""

    ckpt: Optional[str]
    zoo: Optional[str]
    quality: Optional[int]
    metric: str
    weights: Optional[str]
    rate_ckpt: Optional[str]
    rate_quality: Optional[int]
    rate_weights: Optional[str]
    download: bool

    def validate(self) -> None:
        if (self.ckpt is None) == (self.zoo is None):
            raise ConfigError(
                "DistillationModule: give exactly one teacher: teacher_ckpt (a jpegnn checkpoint) or "
                "teacher_zoo + teacher_quality (a CompressAI zoo model with a local state-dict file)"
            )
        if self.zoo is not None and self.quality is None:
            raise ConfigError(f"teacher_zoo={self.zoo!r} needs teacher_quality")
        if self.ckpt is not None and (self.weights is not None or self.quality is not None):
            raise ConfigError("teacher_weights/teacher_quality belong to a zoo teacher (teacher_zoo), not to teacher_ckpt")
        if self.rate_ckpt is not None and self.rate_quality is not None:
            raise ConfigError("give rate_teacher_ckpt or rate_teacher_quality, not both")
        if self.rate_quality is not None and self.zoo is None:
            raise ConfigError("rate_teacher_quality selects a zoo rate teacher: it needs teacher_zoo (use rate_teacher_ckpt otherwise)")
        if self.rate_weights is not None and self.rate_quality is None:
            raise ConfigError("rate_teacher_weights belongs to a zoo rate teacher (rate_teacher_quality)")

    def load(self) -> _Teachers:
        distortion = load_teacher(self.ckpt, self.zoo, self.quality, self.metric, self.weights, self.download, "teacher")
        rate = None
        if self.rate_ckpt is not None:
            rate = load_teacher(self.rate_ckpt, arg_prefix="rate_teacher")
        elif self.rate_quality is not None:
            rate = load_teacher(None, self.zoo, self.rate_quality, self.metric, self.rate_weights, self.download, "rate_teacher")
        if rate is not None and rate.z_channels is None:
            raise ConfigError(f"rate teacher {rate.source} has no hyper-latent z (factorized prior)")
        log.info("KD teacher: %s%s", distortion.source, f"; rate teacher: {rate.source}" if rate else "")
        return _Teachers(distortion, rate)


# ============================================================================ autoencoder pair
class AutoencoderDistillationModule(LightningModule):
    """Reconstruction-only autoencoder, trained alone (a teacher) or distilled from a teacher.

    Without ``teacher_ckpt`` the loss is the reconstruction MSE (train the wide teacher this way).
    With it, ``w_latent·D(latent_s, latent_t) + w_x·MSE(x_hat_s, x_hat_t) + w_rec·MSE(x_hat_s, x)``
    with ``kd_weights = (w_latent, w_x, w_rec)`` (the 3-tuple convention of
    :mod:`jpegnn.losses.distillation`, RD replaced by reconstruction). Logged: ``train/loss``,
    ``train/recon``, ``train/kd_latent``, ``train/kd_x``; ``val/loss`` (reconstruction MSE) and
    ``val/psnr`` (mean of per-image dB); test: ``test/psnr_rgb`` and ``test/mse``, with
    ``reconstruction.json`` (per-image PSNR) in the log directory. The teacher is frozen and kept
    out of the module tree, as in :class:`DistillationModule`.

    Args:
        N: hidden width (teacher e.g. 64, student e.g. 16).
        M: latent channels (default 32; keep the teacher's, or a 1x1 adapter is learned).
        depth: stride-2 stages (patches must be multiples of ``2**depth``).
        teacher_ckpt: checkpoint of an AutoencoderDistillationModule (the trained wide model).
        kd_weights: ``(w_latent, w_x, w_rec)``.
        latent_loss: ``"mse"``, ``"cosine"`` or ``"kl"`` on the latent.
        kl_temperature: temperature of ``"kl"``.
        teacher_M: the teacher's latent channels (filled in from the teacher and saved).
        optimizer: default ``Adam(lr=1e-3)``.
        num_log_images: reconstructions logged to TensorBoard per validation/test epoch.
    """

    def __init__(
        self,
        N: int = 16,
        M: int = 32,
        depth: int = 3,
        teacher_ckpt: Optional[str] = None,
        kd_weights: tuple[float, float, float] = (0.3, 0.3, 0.4),
        latent_loss: Literal["mse", "cosine", "kl"] = "mse",
        kl_temperature: float = 1.0,
        teacher_M: Optional[int] = None,
        optimizer: Optional[OptimizerCallable] = None,
        num_log_images: int = 2,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer"])
        if (isinstance(kd_weights, (str, bytes)) or not isinstance(kd_weights, Sequence) or len(kd_weights) != 3
                or any(isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w) or w < 0
                       for w in kd_weights)):
            raise ConfigError(f"kd_weights must be 3 numbers >= 0 (latent, output, reconstruction), got {kd_weights!r}")
        for name, value in (("N", N), ("M", M), ("depth", depth)):
            check_positive_int("AutoencoderDistillationModule", name, value)
        check_temperature(kl_temperature)
        if latent_loss not in ("mse", "cosine", "kl"):
            raise ConfigError(f"latent_loss must be 'mse', 'cosine' or 'kl', got {latent_loss!r}")
        self.optimizer_factory = optimizer
        self.model = ConvAutoencoder(N, M, depth)
        teacher = None
        if teacher_ckpt is not None and teacher_M is None:
            teacher = self._load_teacher()
            teacher_M = teacher.M
            self.hparams["teacher_M"] = teacher_M
        self.adapter = nn.Conv2d(M, int(teacher_M), 1) if teacher_M is not None and teacher_M != M else None
        object.__setattr__(self, "_teacher", teacher)
        self.val_loss = MeanMetric()
        self.val_psnr = PeakSignalNoiseRatio(data_range=1.0, dim=(1, 2, 3))
        self._test_rows: list[dict[str, Any]] = []

    def _load_teacher(self) -> ConvAutoencoder:
        # network built from the checkpoint directly (no nested LightningModule: see
        # _lic_network_from_checkpoint for why)
        path = self.hparams.teacher_ckpt
        ckpt = _read_checkpoint(path, "teacher_ckpt")
        hp = ckpt.get("hyper_parameters") or {}
        if not {"N", "M", "depth"} <= set(hp):
            raise CheckpointError(f"teacher_ckpt: {path} is not an AutoencoderDistillationModule checkpoint")
        teacher = ConvAutoencoder(int(hp["N"]), int(hp["M"]), int(hp["depth"]))
        state = {k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
        _load_network(teacher, state, Path(path), "teacher_ckpt")
        if teacher.depth != self.hparams.depth:
            raise ConfigError(f"teacher_ckpt {path} has depth {teacher.depth}, the student depth {self.hparams.depth}")
        return freeze(teacher)  # type: ignore[return-value]

    @property
    def teacher(self) -> Optional[ConvAutoencoder]:
        """The frozen teacher (loaded on first use), or None when training without one."""
        if self.hparams.teacher_ckpt is None:
            return None
        if self._teacher is None:
            teacher = self._load_teacher()
            if self.hparams.teacher_M is not None and teacher.M != self.hparams.teacher_M:
                raise ConfigError(
                    f"teacher_ckpt {self.hparams.teacher_ckpt} has {teacher.M} latent channels, but this student was "
                    f"built for teacher_M={self.hparams.teacher_M}"
                )
            object.__setattr__(self, "_teacher", teacher)
        return self._teacher

    def setup(self, stage: str) -> None:
        if stage == "fit":
            self.teacher  # noqa: B018 - fail early on a bad teacher path

    def configure_optimizers(self) -> Any:
        params = list(self.parameters())
        if self.optimizer_factory is not None:
            return self.optimizer_factory(params)
        return torch.optim.Adam(params, lr=1e-3)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.model(x)

    def _check_size(self, x: Tensor) -> None:
        m = self.model.multiple
        if x.shape[-2] % m or x.shape[-1] % m:
            raise ConfigError(f"training patches must be multiples of {m} pixels (got {x.shape[-2]}x{x.shape[-1]})")

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        x = batch["image"]
        self._check_size(x)
        out = self.model(x)
        recon = mse_distillation(out["x_hat"], x)
        teacher = self.teacher
        if teacher is None:
            loss, kd_latent, kd_x = recon, recon.new_zeros(()), recon.new_zeros(())
        else:
            if teacher.training:
                teacher.eval()
            if next(teacher.parameters()).device != x.device:
                teacher.to(x.device)
            with torch.no_grad():
                target = teacher(x)
            w_lat, w_x, w_rec = (float(w) for w in self.hparams.kd_weights)
            latent = self.adapter(out["latent"]) if self.adapter is not None else out["latent"]
            kd_latent = latent_distillation(latent, target["latent"], self.hparams.latent_loss, self.hparams.kl_temperature)
            kd_x = mse_distillation(out["x_hat"], target["x_hat"])
            loss = w_lat * kd_latent + w_x * kd_x + w_rec * recon
        bs = x.shape[0]
        for name, value in (("train/loss", loss), ("train/recon", recon), ("train/kd_latent", kd_latent), ("train/kd_x", kd_x)):
            self.log(name, value.detach(), prog_bar=name == "train/loss", batch_size=bs)
        return loss

    def _reconstruct(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        x_pad, _ = pad_to_multiple(x, self.model.multiple)
        return crop_to(self.model(x_pad)["x_hat"], (h, w))

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        x = batch["image"]
        x_hat = self._reconstruct(x)
        bs = x.shape[0]
        self.val_loss.update(mse_distillation(x_hat, x), weight=bs)
        self.val_psnr.update(x_hat.clamp(0, 1), x)
        self.log("val/loss", self.val_loss, prog_bar=True, batch_size=bs)
        self.log("val/psnr", self.val_psnr, prog_bar=True, batch_size=bs)

    def on_test_start(self) -> None:
        self._test_rows = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        for i in range(batch["image"].shape[0]):
            x = batch["image"][i : i + 1]
            # 8-bit output, as a decoded image file would be
            x_hat = (self._reconstruct(x).clamp(0, 1) * 255).round() / 255
            mse = float(torch.mean((x_hat - x) ** 2))
            psnr = float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)
            self._test_rows.append({"image": str(batch["name"][i]), "mse": mse, "psnr_rgb": psnr})

    def on_test_epoch_end(self) -> None:
        # every rank's images, once each (DDP), so the means and the file cover the whole test set
        rows = gather_rows(self._test_rows)
        if not rows:
            return
        mean_psnr = sum(r["psnr_rgb"] for r in rows) / len(rows)
        mean_mse = sum(r["mse"] for r in rows) / len(rows)
        # identical on every rank after the gather: no further reduction
        self.log("test/psnr_rgb", mean_psnr, sync_dist=False)
        self.log("test/mse", mean_mse, sync_dist=False)
        self.test_results = {"rows": rows, "mean": {"psnr_rgb": mean_psnr, "mse": mean_mse}}
        self._write(run_dir(self.trainer), rows, mean_psnr)

    @rank_zero_only
    def _write(self, out_dir: Path, rows: list[dict[str, Any]], mean_psnr: float) -> None:
        from jpegnn.utils.atomic import write_json_atomic

        n_params = sum(p.numel() for p in self.model.parameters())
        write_json_atomic(out_dir / "reconstruction.json", {
            "name": f"autoencoder-N{self.hparams.N}-M{self.hparams.M}",
            "description": "reconstruction only (no quantization/bitstream); PSNR of the 8-bit output, mean of per-image dB; "
            f"{n_params} parameters; teacher: {self.hparams.teacher_ckpt}",
            "psnr-rgb": mean_psnr,
            "per_image": rows,
        })

    def complexity_functions(self, x: Tensor) -> dict[str, Any]:
        """Encoder and decoder workloads for :mod:`jpegnn.profiling` (``jpegnn profile``)."""
        x_pad, _ = pad_to_multiple(x, self.model.multiple)
        with torch.no_grad():
            latent = self.model.encoder(x_pad)

        def encoder() -> Tensor:
            return self.model.encoder(x_pad)

        def decoder() -> Tensor:
            return self.model.decoder(latent)

        encoder.__doc__ = "the autoencoder's encoder on the padded image"
        decoder.__doc__ = "the autoencoder's decoder from the latent"
        return {"encoder": encoder, "decoder": decoder}
