"""Evaluation protocols: how a learned codec's test image is padded and its entropy model prepared.

Two learned-codec evaluations of the same weights differ in bpp and PSNR unless they pad the
image and build the entropy-coder tables the same way. A protocol fixes both:

``compressai`` (the default wherever numbers sit beside published ones)
    What ``python -m compressai.utils.eval_model`` does: the image is padded **centred with zeros**
    to multiples of 64 for every model (``compute_padding(h, w, min_div=2**6)``, even for the
    factorized prior, which would need 16), coded, and the centre cropped back;
    the CDF tables are built from the quantiles the weights carry (``update(force=True)``, no
    refit). MS-SSIM is ``pytorch_msssim.ms_ssim`` on 8-bit images, PSNR one MSE over RGB
    (:mod:`jpegnn.metrics.image_quality`). ``jpegnn test`` on a checkpoint and ``eval_model`` on its
    exported weights (``jpegnn export-weights``) give the same bpp and PSNR.

``jpegnn``
    Padding to the model's own multiple (16 for the factorized prior, 64 for the others) on the
    **bottom and right by edge replication** (a flat continuation of the border
    costs fewer bits than a zero frame: lower bpp on sizes that are not multiples of 64, identical
    on Kodak's 768x512) and the quantiles **refit by bisection** before the tables are built
    (CompressAI PR 231), which brings the actual rate of a briefly trained model closer to its
    estimate (CompressAI issue 236). Its numbers are not comparable with CompressAI-protocol ones
    on other image sizes.

Every ``results.json`` names the protocol that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from compressai.ops import compute_padding
from torch import Tensor

from jpegnn.errors import ConfigError

__all__ = ["EvalProtocol", "PROTOCOLS", "DEFAULT_PROTOCOL", "get_protocol", "padding_of", "pad", "unpad"]

Placement = Literal["centre", "bottom-right"]


@dataclass(frozen=True)
class EvalProtocol:
    """How images are padded for coding and whether quantiles are refit before coding.

    Attributes:
        name: ``"compressai"`` or ``"jpegnn"``.
        placement: Where the padding goes: ``"centre"`` (split evenly, the extra pixel after) or
            ``"bottom-right"``.
        pad_mode: ``torch.nn.functional.pad`` mode: ``"constant"`` (zeros) or ``"replicate"``.
        refit_quantiles: Refit the entropy bottleneck's quantiles by bisection before building
            the CDF tables (``update(force=True, update_quantiles=True)``).
        min_multiple: Sides are padded to multiples of ``max(min_multiple, the model's own
            downsampling factor)``: 64 for ``compressai`` (eval_model pads every model to 64), 1 for
            ``jpegnn`` (the model's own factor).
    """

    name: str
    placement: Placement
    pad_mode: str
    refit_quantiles: bool
    min_multiple: int = 1

    def multiple(self, model_multiple: int) -> int:
        """Padding multiple for a model whose own downsampling factor is ``model_multiple``."""
        return max(int(self.min_multiple), int(model_multiple))

    def describe(self) -> str:
        """One line for result files."""
        fill = "zeros" if self.pad_mode == "constant" else "edge replication"
        refit = "quantiles refit by bisection" if self.refit_quantiles else "quantiles as trained (no refit)"
        to = f"multiples of {self.min_multiple}" if self.min_multiple > 1 else "the model's multiple"
        return f"protocol {self.name}: padded {self.placement} with {fill} to {to}, {refit}"


PROTOCOLS: dict[str, EvalProtocol] = {
    "compressai": EvalProtocol("compressai", "centre", "constant", refit_quantiles=False, min_multiple=64),
    "jpegnn": EvalProtocol("jpegnn", "bottom-right", "replicate", refit_quantiles=True),
}
DEFAULT_PROTOCOL = "compressai"


def get_protocol(protocol: str | EvalProtocol, argument: str = "protocol") -> EvalProtocol:
    """The :class:`EvalProtocol` named ``protocol`` (a ConfigError naming ``argument`` otherwise)."""
    if isinstance(protocol, EvalProtocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except (KeyError, TypeError):
        raise ConfigError(
            f"argument '{argument}' must be one of {', '.join(PROTOCOLS)}, got {protocol!r}"
        ) from None


def padding_of(height: int, width: int, multiple: int, placement: Placement) -> tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` pixels that bring ``height x width`` to multiples of ``multiple``.

    ``"centre"`` is ``compressai.ops.compute_padding(h, w, min_div=multiple)``'s padding.
    """
    if placement == "centre":
        pad_, _ = compute_padding(height, width, min_div=multiple)
        return tuple(int(p) for p in pad_)  # type: ignore[return-value]
    if placement == "bottom-right":
        return 0, (-width) % multiple, 0, (-height) % multiple
    raise ConfigError(f"padding placement must be 'centre' or 'bottom-right', got {placement!r}")


def pad(x: Tensor, multiple: int, protocol: str | EvalProtocol = DEFAULT_PROTOCOL) -> Tensor:
    """Pad a ``B x C x H x W`` tensor to multiples of ``multiple`` as ``protocol`` says."""
    p = get_protocol(protocol)
    lrtb = padding_of(x.shape[-2], x.shape[-1], multiple, p.placement)
    if not any(lrtb):
        return x
    return F.pad(x, lrtb, mode=p.pad_mode)


def unpad(x: Tensor, height: int, width: int, multiple: int, placement: Placement) -> Tensor:
    """Crop a padded ``... x H' x W'`` tensor back to ``height x width`` (inverse of :func:`pad`)."""
    left, _, top, _ = padding_of(height, width, multiple, placement)
    return x[..., top : top + height, left : left + width]
