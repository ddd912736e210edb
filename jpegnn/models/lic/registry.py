"""Architecture registry and CompressAI-zoo presets for the learned image codecs.

Names follow ``compressai.zoo``: ``bmshj2018-factorized`` (Ballé 2017/2018 factorized prior),
``bmshj2018-hyperprior`` (scale hyperprior), ``mbt2018-mean`` (mean-scale hyperprior),
``mbt2018`` (joint autoregressive + hierarchical priors, serial context), ``checkerboard``
(He et al. 2021 two-pass checkerboard context on the mbt2018 backbone) and ``elic``
(He et al. 2022, CompressAI's ``Elic2022Official``).

``quality`` 1..8 selects CompressAI's zoo presets: the MSE λ values of ``docs/source/zoo.rst``
and N/M of ``compressai.zoo.image.cfgs``. Every value can be overridden.

Every network built here has float32 entropy models under autocast (``bf16-mixed``/``16-mixed``
autocast the transforms only): :func:`jpegnn.models.lic.precision.float32_entropy_models`.
"""

from __future__ import annotations

import numbers
from typing import Callable

from compressai.models import (
    CompressionModel,
    Elic2022Official,
    FactorizedPrior,
    JointAutoregressiveHierarchicalPriors,
    MeanScaleHyperprior,
    ScaleHyperprior,
)

from jpegnn.errors import ConfigError
from jpegnn.models.lic.checkerboard import Mbt2018Checkerboard
from jpegnn.models.lic.precision import float32_entropy_models

#: zoo λ for distortion = λ·255²·MSE, quality 1..8
LAMBDAS_MSE: dict[int, float] = {
    1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.0130, 5: 0.0250, 6: 0.0483, 7: 0.0932, 8: 0.1800,
}
#: zoo λ for distortion = λ·(1 − MS-SSIM), quality 1..8
LAMBDAS_MS_SSIM: dict[int, float] = {
    1: 2.40, 2: 4.58, 3: 8.73, 4: 16.64, 5: 31.73, 6: 60.50, 7: 115.37, 8: 220.00,
}

_SMALL, _LARGE = (128, 192), (192, 320)
#: (N, M) per quality, as ``compressai.zoo.image.cfgs``
_CHANNELS: dict[str, dict[int, tuple[int, int]]] = {
    "bmshj2018-factorized": {q: _SMALL if q <= 5 else _LARGE for q in range(1, 9)},
    "bmshj2018-hyperprior": {q: _SMALL if q <= 5 else _LARGE for q in range(1, 9)},
    "mbt2018-mean": {q: _SMALL if q <= 4 else _LARGE for q in range(1, 9)},
    "mbt2018": {q: (192, 192) if q <= 4 else (192, 320) for q in range(1, 9)},
    "checkerboard": {q: (192, 192) if q <= 4 else (192, 320) for q in range(1, 9)},
    # ELIC ships one configuration; rates come from λ alone.
    "elic": {q: (192, 320) for q in range(1, 9)},
}


def _elic(N: int, M: int) -> CompressionModel:
    # Uneven channel groups [16, 16, 32, 64, M-128] at M=320, scaled with M for other widths.
    base = [max(1, M // 20), max(1, M // 20), max(1, M // 10), max(1, M // 5)]
    groups = base + [M - sum(base)]
    if groups[-1] < 1:
        raise ConfigError(f"elic needs M >= 5 (five channel groups), got M={M}")
    return Elic2022Official(N=N, M=M, groups=groups)


ARCHITECTURES: dict[str, Callable[[int, int], CompressionModel]] = {
    "bmshj2018-factorized": lambda N, M: FactorizedPrior(N=N, M=M),
    "bmshj2018-hyperprior": lambda N, M: ScaleHyperprior(N=N, M=M),
    "mbt2018-mean": lambda N, M: MeanScaleHyperprior(N=N, M=M),
    "mbt2018": lambda N, M: JointAutoregressiveHierarchicalPriors(N=N, M=M),
    "checkerboard": lambda N, M: Mbt2018Checkerboard(N=N, M=M),
    "elic": _elic,
}


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_quality(quality: object) -> None:
    # `True in range(1, 9)` and `3.0 in range(1, 9)` are both true: check the type as well
    if not _is_int(quality) or quality not in range(1, 9):
        raise ConfigError(f"quality must be 1..8 (CompressAI zoo presets), got {quality!r}")


def _check(architecture: str, quality: int) -> None:
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"unknown architecture {architecture!r}; choose one of: {', '.join(ARCHITECTURES)}"
        )
    _check_quality(quality)


def _channels_arg(name: str, value: object, preset: int) -> int:
    """An N/M/N_entropy override: None gives the preset; anything else must be a positive int."""
    if value is None:
        return preset
    integral = _is_int(value) or (isinstance(value, float) and value.is_integer())
    if not integral or int(value) < 1:  # type: ignore[call-overload]
        raise ConfigError(f"{name} must be a positive integer (or unset for the quality preset), got {value!r}")
    return int(value)  # type: ignore[call-overload]


def preset_channels(architecture: str, quality: int) -> tuple[int, int]:
    """(N, M) of the CompressAI zoo preset for ``architecture`` at ``quality``."""
    _check(architecture, quality)
    return _CHANNELS[architecture][quality]


def default_lambda(quality: int, distortion: str = "mse") -> float:
    """Zoo λ for ``quality`` (1..8) and ``distortion`` (``"mse"`` or ``"ms-ssim"``)."""
    table = {"mse": LAMBDAS_MSE, "ms-ssim": LAMBDAS_MS_SSIM}.get(distortion)
    if table is None:
        raise ConfigError(f"distortion must be 'mse' or 'ms-ssim', got {distortion!r}")
    _check_quality(quality)
    return table[quality]


def build_lic_model(
    architecture: str,
    quality: int = 3,
    N: int | None = None,
    M: int | None = None,
    N_entropy: int | None = None,
) -> CompressionModel:
    """Instantiate a CompressAI network; N/M default to the zoo preset for ``quality``.

    ``N_entropy`` (hyperprior family only: ``bmshj2018-hyperprior``, ``mbt2018-mean``) sets the
    width of the hyper branch (``z``, entropy bottleneck, ``h_a``/``h_s`` hidden layers)
    independently of N, as knowledge-distilled students need (see
    :mod:`jpegnn.models.lic.students`). None or equal to N gives CompressAI's own model.

    The entropy models of the returned network compute in float32 under autocast
    (:func:`~jpegnn.models.lic.precision.float32_entropy_models`); weights and state dict are
    CompressAI's.
    """
    pN, pM = preset_channels(architecture, quality)
    # `N or preset` would silently turn N=0 into the preset width
    N, M = _channels_arg("N", N, pN), _channels_arg("M", M, pM)
    if N_entropy is not None:
        N_entropy = _channels_arg("N_entropy", N_entropy, N)
    if N_entropy is not None and N_entropy != N:
        from jpegnn.models.lic.students import N_ENTROPY_ARCHITECTURES

        student = N_ENTROPY_ARCHITECTURES.get(architecture)
        if student is None:
            raise ConfigError(
                f"N_entropy is only supported for {', '.join(N_ENTROPY_ARCHITECTURES)} (got architecture "
                f"{architecture!r}); leave N_entropy unset"
            )
        return float32_entropy_models(student(N, M, int(N_entropy)))
    return float32_entropy_models(ARCHITECTURES[architecture](N, M))
