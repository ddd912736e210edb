"""Codecs that make (original, decoded) training pairs on the fly.

An enhancement filter learns to undo a codec's errors, so each batch of originals from any
DataModule (:class:`jpegnn.data.ImageDataModule`'s random patches, Kodak's full images) is coded
and decoded here, after cropping: the decoded patch is exactly what the codec produces for that
patch. Two codecs:

* :class:`JPEGDegradation`: Pillow (libjpeg-turbo) baseline JPEG at one quality or, in training,
  a quality drawn uniformly per image from an inclusive range; 4:2:0 (Pillow's default, what
  ``jpegnn bench --codec jpeg`` runs) or 4:4:4 chroma. ``bpp`` is the real file size.
* :class:`CheckpointDegradation`: a trained jpegnn learned codec (``LICModule`` checkpoint); the
  reconstruction of an eval-mode forward (latents rounded, as the decoder sees them), with no
  gradient; ``bpp`` is the likelihood estimate (the real ``.jnn`` rate is within a few percent
  after ``jpegnn fit``, see ``jpegnn bench --ckpt``).

Decoded images are returned on the input's device and dtype, rounded to 8-bit levels (what a
decoder writes).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Literal, NamedTuple, Optional, Union

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from jpegnn.errors import CheckpointError, ConfigError, DataError

__all__ = ["Degraded", "Degradation", "JPEGDegradation", "CheckpointDegradation", "jpeg_roundtrip"]

_SUBSAMPLING = {"4:2:0": 2, "4:4:4": 0}


class Degraded(NamedTuple):
    """A coded batch: ``decoded`` (``B x 3 x H x W`` in [0, 1], 8-bit levels), per-image ``bpp``
    (bits per pixel) and per-image ``quality`` (the codec setting used; None for checkpoints)."""

    decoded: Tensor
    bpp: list[float]
    quality: list[Optional[int]]


class Degradation:
    """A codec applied to ``B x 3 x H x W`` batches in [0, 1]; see the module docstring.

    Subclasses implement :meth:`__call__` and :meth:`describe`. Instances are plain objects
    (not ``nn.Module``), so a codec's weights never enter the filter's checkpoint.
    """

    def __call__(self, images: Tensor, training: bool = False) -> Degraded:
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the codec and its settings (recorded with the results)."""
        raise NotImplementedError


def _check_images(images: object, where: str) -> Tensor:
    """``images`` if it is a non-empty ``B x 3 x H x W`` floating-point tensor, else a DataError."""
    if not isinstance(images, Tensor):
        raise DataError(f"{where}: argument 'images' must be a B x 3 x H x W RGB tensor in [0, 1], got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] != 3 or images.numel() == 0 or not images.is_floating_point():
        raise DataError(
            f"{where}: argument 'images' must be a non-empty B x 3 x H x W floating-point RGB tensor in [0, 1], got "
            f"shape {tuple(images.shape)} ({images.dtype}); convert grayscale images to RGB in the data module"
        )
    return images


def jpeg_roundtrip(image: np.ndarray, quality: int, subsampling: int = 2) -> tuple[np.ndarray, int]:
    """Encode an ``H x W x 3`` uint8 image with Pillow JPEG and decode it: ``(decoded, num_bytes)``."""
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="JPEG", quality=int(quality), subsampling=subsampling)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        decoded = np.asarray(im.convert("RGB"))
    return decoded, len(data)


class JPEGDegradation(Degradation):
    """Pillow baseline JPEG.

    Args:
        quality: Pillow quality 1..100, or ``[lo, hi]``: in training each image gets a quality
            drawn uniformly from ``lo..hi`` (inclusive, torch's global RNG, so ``seed_everything``
            makes it reproducible).
        eval_quality: Quality used in validation/test (default: ``quality``, or the rounded
            middle of the range).
        subsampling: ``"4:2:0"`` (Pillow's default) or ``"4:4:4"``.
    """

    def __init__(
        self,
        quality: Union[int, list[int]] = 20,
        eval_quality: Optional[int] = None,
        subsampling: Literal["4:2:0", "4:4:4"] = "4:2:0",
    ) -> None:
        qs = [quality] if isinstance(quality, int) and not isinstance(quality, bool) else quality
        if (not isinstance(qs, (list, tuple)) or len(qs) not in (1, 2)
                or any(isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 100 for q in qs)
                or qs[0] > qs[-1]):
            raise ConfigError(
                f"JPEGDegradation: argument 'quality' must be an integer 1..100 or a range [lo, hi] with "
                f"1 <= lo <= hi <= 100, got {quality!r}"
            )
        self.lo, self.hi = int(qs[0]), int(qs[-1])
        if eval_quality is None:
            eval_quality = round((self.lo + self.hi) / 2)
        if isinstance(eval_quality, bool) or not isinstance(eval_quality, int) or not 1 <= eval_quality <= 100:
            raise ConfigError(f"JPEGDegradation: argument 'eval_quality' must be an integer 1..100, got {eval_quality!r}")
        if subsampling not in _SUBSAMPLING:
            raise ConfigError(f"JPEGDegradation: argument 'subsampling' must be one of {list(_SUBSAMPLING)}, got {subsampling!r}")
        self.eval_quality = eval_quality
        self.subsampling = subsampling

    def qualities(self, n: int, training: bool) -> list[int]:
        """Quality of each of ``n`` images."""
        if training and self.hi > self.lo:
            return torch.randint(self.lo, self.hi + 1, (n,)).tolist()
        return [self.lo if training else self.eval_quality] * n

    @torch.no_grad()
    def __call__(self, images: Tensor, training: bool = False) -> Degraded:
        _check_images(images, "JPEGDegradation")
        arr = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        h, w = arr.shape[1:3]
        qs = self.qualities(arr.shape[0], training)
        decoded, bpp = [], []
        for img, q in zip(arr, qs):
            dec, nbytes = jpeg_roundtrip(np.ascontiguousarray(img), q, _SUBSAMPLING[self.subsampling])
            decoded.append(torch.from_numpy(dec.copy()))
            bpp.append(nbytes * 8.0 / (h * w))
        out = torch.stack(decoded).permute(0, 3, 1, 2).to(device=images.device, dtype=images.dtype) / 255
        return Degraded(out, bpp, list(qs))

    def describe(self) -> str:
        q = str(self.lo) if self.lo == self.hi else f"{self.lo}..{self.hi} (eval {self.eval_quality})"
        return f"Pillow JPEG quality {q}, {self.subsampling}"

    def __repr__(self) -> str:
        return f"JPEGDegradation(quality={[self.lo, self.hi] if self.hi > self.lo else self.lo}, eval_quality={self.eval_quality}, subsampling={self.subsampling!r})"


class CheckpointDegradation(Degradation):
    """A trained jpegnn learned codec (``jpegnn fit`` checkpoint of an ``LICModule``).

    Args:
        checkpoint: Path of the ``.ckpt`` file. Checked to exist here; loaded (``weights_only``)
            on first use onto the batch's device, in eval mode.
    """

    def __init__(self, checkpoint: str) -> None:
        path = Path(os.path.expanduser(str(checkpoint)))
        if not path.is_file():
            raise CheckpointError(f"CheckpointDegradation: checkpoint not found: {path}")
        self.checkpoint = path
        self._module = None

    def _model(self, device: torch.device):
        if self._module is None:
            from jpegnn.tasks.lic import LICModule
            from jpegnn.tasks.loading import load_module

            self._module = load_module(self.checkpoint, LICModule)
            for p in self._module.parameters():
                p.requires_grad_(False)
        self._module.to(device).eval()
        return self._module.model

    @torch.no_grad()
    def __call__(self, images: Tensor, training: bool = False) -> Degraded:
        from jpegnn.coding.lic import padding_multiple
        from jpegnn.coding.padding import crop_to, pad_to_multiple
        from jpegnn.losses.rate_distortion import bits_from_likelihoods

        _check_images(images, "CheckpointDegradation")
        model = self._model(images.device)
        x = images.detach().float().clamp(0, 1)
        h, w = x.shape[-2:]
        x_pad, _ = pad_to_multiple(x, padding_multiple(model))
        out = model(x_pad)
        x_hat = crop_to(out["x_hat"], (h, w))
        x_hat = (x_hat.clamp(0, 1) * 255).round() / 255
        bits = bits_from_likelihoods(out["likelihoods"]).tolist()  # per image
        return Degraded(x_hat.to(images.dtype), [b / (h * w) for b in bits], [None] * x.shape[0])

    def describe(self) -> str:
        return f"jpegnn learned codec {self.checkpoint.name} (eval-mode reconstruction, estimated bpp)"

    def __repr__(self) -> str:
        return f"CheckpointDegradation(checkpoint={str(self.checkpoint)!r})"

    def __getstate__(self):  # the loaded model is rebuilt in each process (DDP spawn, workers)
        return {**self.__dict__, "_module": None}


def as_degradation(obj: object, where: str = "degradation") -> Degradation:
    """``obj`` if it is a :class:`Degradation`, else a ConfigError naming ``where``."""
    if not isinstance(obj, Degradation):
        raise ConfigError(
            f"{where}: expected a jpegnn.enhance.JPEGDegradation or CheckpointDegradation, got {type(obj).__name__}"
        )
    return obj

