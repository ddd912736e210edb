"""Knowledge-distillation (KD) losses for learned image compression: pure functions on tensors.

A student codec is trained with its own rate-distortion loss plus terms that pull its latent
``y``, its hyper-latent ``z`` and its reconstruction ``x_hat`` towards a frozen teacher's
(Allemand et al., arXiv 2509.10366)::

    loss = w_y · D(y_s, y_t) + w_z · D(z_s, z_t) + w_x · MSE(x_hat_s, x_hat_t) + w_rd · RD_λ

where ``RD_λ = λ·255²·MSE(x_hat_s, x) + bpp`` is the student's own objective
(:class:`~jpegnn.losses.rate_distortion.RateDistortionLoss`, bpp estimated from likelihoods) and
``D`` is one of the latent distances below. Units:

* :func:`mse_distillation`: mean squared difference per element, in the tensors' own units
  (latent units², or [0, 1]-intensity² for images: an 8-bit error of 1 level is 1.5e-5).
* :func:`cosine_distillation`: mean over latent positions (b, h, w) of ``1 − cos`` between the
  student's and the teacher's channel vectors; dimensionless, in [0, 2]; blind to scale.
* :func:`kl_distillation`: KL(p_t ‖ p_s) between channel softmaxes at each latent position, in
  nats per position (Hinton et al.'s temperature T, scaled by T² so gradients keep their size).
  Written as PyTorch's ``KLDivLoss`` expects: *input* log-probabilities (student), *target*
  probabilities (teacher), ``reduction="batchmean"`` over the ``B·H·W`` rows of a
  ``(B·H·W) x C`` matrix. (Following those documented conventions is our choice. The KD
  logbook's 22/01/2025 entry only cancels KL runs with "Should have read doc:" and the link to
  ``torch.nn.KLDivLoss``; it does not say what the earlier KL term fed or got wrong.)

What the KD logbook (the lab's "PRIM Logbook", September 2024 to May 2025) does and does not
say: its compression runs are "student KD with RD loss and latent loss MSE" (or KL, "KLD"), from
11/05/2025 "latent loss MSE + hyper-latent loss MSE", with weight tuples such as
``lmbda=(0.3, 0.3, 0.4)``, ``(0.2, 0.2, 0.2, 0.4)`` and ``(0.2, 0.2, 0.2, 0.4, 0.025)``. It names
no tensor beyond "latent" and "hyper-latent" (not ``y`` vs ``y_hat``, nor raw values vs softmax)
and does not say which entry weights which term. For LIC its only other KD note is the meeting
item "On decoder part (image + hyperprior decoder)" (11/12/2024); a reconstruction term appears
only for the autoencoder ("Loss on reconstruction (MSE, MS-SSIM)").

Weight tuples (:func:`parse_kd_weights`) take the logbook's lengths; the meaning of each entry is
**our reading**: the named terms (latent, hyper-latent, RD), plus an ``x_hat`` term for the one
entry the logbook leaves unnamed (the reconstruction, as in its autoencoder experiment), with the
RD weight last:

* 3 values ``(w_y, w_x, w_rd)``: latent, output, RD, e.g. ``(0.3, 0.3, 0.4)`` (no ``z`` term);
* 4 values ``(w_y, w_z, w_x, w_rd)``;
* 5 values ``(w_y, w_z, w_x, w_rd, λ)``: the 5th is the RD λ itself, e.g.
  ``(0.2, 0.2, 0.2, 0.4, 0.025)``: 0.025 is CompressAI's λ for zoo quality 5, the teacher quality
  of the logbook's run with that tuple (13/05/2025); that it is the RD λ is our reading too.

Note on scales: at those weights the output term is small (image MSE ~1e-3) next to the RD term
(~1 with λ·255²), while the latent MSE of an untrained student can be ~1–10 and dominates early.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal, Mapping, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor

from jpegnn.errors import ConfigError

__all__ = [
    "LATENT_LOSSES",
    "KDWeights",
    "parse_kd_weights",
    "mse_distillation",
    "cosine_distillation",
    "kl_distillation",
    "check_temperature",
    "latent_distillation",
    "distillation_objective",
]

LatentLoss = Literal["mse", "cosine", "kl"]
#: names accepted for the latent distance ``D``
LATENT_LOSSES: tuple[str, ...] = ("mse", "cosine", "kl")


def _check_pair(student: Tensor, teacher: Tensor, what: str) -> None:
    if student.shape != teacher.shape:
        raise ConfigError(
            f"KD {what}: student shape {tuple(student.shape)} != teacher shape {tuple(teacher.shape)}; "
            "give the student the teacher's channel count (M / N_entropy) or use an adapter"
        )


def mse_distillation(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean squared difference over all elements (the teacher is a constant target)."""
    _check_pair(student, teacher, "mse")
    return F.mse_loss(student, teacher.detach())


def cosine_distillation(student: Tensor, teacher: Tensor, eps: float = 1e-8) -> Tensor:
    """Mean over positions of ``1 − cos(s[b, :, h, w], t[b, :, h, w])`` (channel vectors).

    Positions where either vector is (near) zero count as cos = 0 (``eps`` guards the norms).
    """
    _check_pair(student, teacher, "cosine")
    cos = F.cosine_similarity(student, teacher.detach(), dim=1, eps=eps)
    return (1.0 - cos).mean()


def _rows(t: Tensor) -> Tensor:
    """B x C x H x W -> (B·H·W) x C (one row per latent position)."""
    if t.dim() < 2:
        raise ConfigError(f"KD kl: expected B x C [x H x W] latents, got shape {tuple(t.shape)}")
    return t.movedim(1, -1).reshape(-1, t.shape[1])


def check_temperature(temperature: object, arg_name: str = "kl_temperature") -> float:
    """``temperature`` as a float if it is a finite number > 0, else a ConfigError naming ``arg_name``."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not math.isfinite(temperature) \
            or temperature <= 0:
        raise ConfigError(f"{arg_name} (the KD kl softmax temperature) must be a finite number > 0, got {temperature!r}")
    return float(temperature)


def kl_distillation(student: Tensor, teacher: Tensor, temperature: float = 1.0) -> Tensor:
    """KL(softmax(t/T) ‖ softmax(s/T)) over channels, averaged over positions, times T².

    Implemented with ``F.kl_div(input=log_softmax(s/T), target=softmax(t/T),
    reduction="batchmean")`` on ``(B·H·W) x C`` rows, i.e. nats per latent position.
    """
    _check_pair(student, teacher, "kl")
    check_temperature(temperature)
    log_q = F.log_softmax(_rows(student) / temperature, dim=1)
    p = F.softmax(_rows(teacher.detach()) / temperature, dim=1)
    return F.kl_div(log_q, p, reduction="batchmean") * temperature**2


def latent_distillation(student: Tensor, teacher: Tensor, kind: str = "mse", temperature: float = 1.0) -> Tensor:
    """The latent distance ``D`` named ``kind`` (``"mse"``, ``"cosine"`` or ``"kl"``)."""
    if kind == "mse":
        return mse_distillation(student, teacher)
    if kind == "cosine":
        return cosine_distillation(student, teacher)
    if kind == "kl":
        return kl_distillation(student, teacher, temperature)
    raise ConfigError(f"latent_loss must be one of {LATENT_LOSSES}, got {kind!r}")


@dataclass(frozen=True)
class KDWeights:
    """Weights of the KD objective (see the module docstring); ``lmbda`` is None unless given."""

    y: float
    z: float
    x: float
    rd: float
    lmbda: Optional[float] = None

    def as_tuple(self) -> tuple[float, ...]:
        base = (self.y, self.z, self.x, self.rd)
        return base if self.lmbda is None else (*base, self.lmbda)


def parse_kd_weights(weights: Sequence[float], arg_name: str = "kd_weights") -> KDWeights:
    """Read a 3-, 4- or 5-tuple of weights (module docstring); all must be finite and >= 0.

    Raises:
        ConfigError: Wrong length, negative or non-finite value, all weights zero, or λ <= 0.
    """
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence) or any(
        isinstance(v, bool) or not isinstance(v, numbers.Real) for v in weights
    ):
        raise ConfigError(
            f"{arg_name} must be a list of 3, 4 or 5 numbers, e.g. [0.3, 0.3, 0.4] (latent, output, RD), "
            f"got {weights!r}"
        )
    values = [float(v) for v in weights]
    if len(values) not in (3, 4, 5):
        raise ConfigError(
            f"{arg_name} must have 3 values (latent, output, RD), 4 (latent, hyper-latent, output, RD) or 5 "
            f"(... , RD λ); got {len(values)}: {list(weights)}"
        )
    if any(not math.isfinite(v) or v < 0 for v in values):
        raise ConfigError(f"{arg_name} must be finite and >= 0, got {list(weights)}")
    if len(values) == 3:
        parsed = KDWeights(y=values[0], z=0.0, x=values[1], rd=values[2])
    else:
        parsed = KDWeights(*values[:4], lmbda=values[4] if len(values) == 5 else None)
    if parsed.lmbda is not None and parsed.lmbda <= 0:
        raise ConfigError(f"{arg_name}: the 5th value is the RD λ and must be > 0, got {parsed.lmbda}")
    if parsed.y + parsed.z + parsed.x + parsed.rd == 0:
        raise ConfigError(f"{arg_name}: all weights are zero, nothing would be trained")
    return parsed


def distillation_objective(
    weights: KDWeights,
    rd: Mapping[str, Tensor],
    student: Mapping[str, Optional[Tensor]],
    teacher: Mapping[str, Optional[Tensor]],
    latent_loss: str = "mse",
    temperature: float = 1.0,
) -> dict[str, Tensor]:
    """Combine the student's RD terms with the KD terms.

    Args:
        weights: From :func:`parse_kd_weights`.
        rd: The student's :class:`~jpegnn.losses.rate_distortion.RateDistortionLoss` output
            (``loss``, ``bpp``, ``mse`` and maybe ``ms_ssim``).
        student, teacher: ``y``, ``z`` and ``x_hat`` tensors (same shapes pairwise; ``z`` may be
            None when its weight is 0). The teacher's are treated as constants.
        latent_loss: ``D`` for ``y`` and ``z``: ``"mse"``, ``"cosine"`` or ``"kl"``.
        temperature: Softmax temperature of the ``"kl"`` distance.

    Returns:
        ``loss`` (the weighted sum), ``rd`` (unweighted RD loss), ``kd_y``, ``kd_z``, ``kd_x``
        (unweighted distances; 0 for zero-weighted terms, which are not computed) and the RD
        dict's ``bpp``/``mse``/``ms_ssim`` entries.
    """
    zero = rd["loss"].new_zeros(())
    terms: dict[str, Tensor] = {}
    for key, weight, name in (("y", weights.y, "kd_y"), ("z", weights.z, "kd_z")):
        if weight > 0:
            s, t = student.get(key), teacher.get(key)
            if s is None or t is None:
                raise ConfigError(f"KD weight of {key!r} is {weight} but the {'student' if s is None else 'teacher'} has no {key}")
            terms[name] = latent_distillation(s, t, latent_loss, temperature)
        else:
            terms[name] = zero
    if weights.x > 0:
        terms["kd_x"] = mse_distillation(student["x_hat"], teacher["x_hat"])  # type: ignore[arg-type]
    else:
        terms["kd_x"] = zero
    loss = weights.y * terms["kd_y"] + weights.z * terms["kd_z"] + weights.x * terms["kd_x"] + weights.rd * rd["loss"]
    out = {"loss": loss, "rd": rd["loss"], **terms, "bpp": rd["bpp"], "mse": rd["mse"]}
    if "ms_ssim" in rd:
        out["ms_ssim"] = rd["ms_ssim"]
    return out
