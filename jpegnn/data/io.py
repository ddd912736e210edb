"""Reading image files as 8-bit RGB tensors, the one input format of every jpegnn dataset.

:func:`load_rgb` turns any image file Pillow can open into a ``torch.uint8`` tensor of shape
``3 x H x W`` (channels first, values 0..255). Conversion rules:

* **RGB** (8 bit per channel) is returned as stored; the result equals
  ``numpy.asarray(PIL.Image.open(path).convert("RGB"))`` transposed to channels first.
* **Grayscale** (``L``, 1-bit ``1``) is copied into the three channels.
* **Transparency** (``RGBA``, ``LA``, palette ``P`` with a ``tRNS`` chunk, ``PA``, grey or RGB
  colour-key transparency) is **composited on white**: ``out = c * a + 255 * (1 - a)`` with
  ``a = alpha / 255``, rounded to the nearest integer. We composite instead of dropping alpha
  because the colour stored under fully transparent pixels is arbitrary (often black), which would
  add invented edges the codec then spends bits on. No standard compression test set
  (Kodak, CLIC, Vimeo-90k) has an alpha channel, so reported numbers are unaffected.
* **Palette** images without transparency are expanded to RGB.
* **16-bit** files (PNG greyscale/RGB/RGBA/grey+alpha, TIFF ``I;16``/16-bit RGB, PGM/PPM) are scaled to
  8 bit by rounding, ``v8 = round(v16 * 255 / 65535)`` (0 -> 0, 65535 -> 255). Pillow itself keeps
  only the high byte of 16-bit RGB PNGs (``floor(v16 / 256)``, off by one for about half the
  values), so those files are decoded at full precision with :func:`torchvision.io.decode_png`
  (PNG) or :mod:`tifffile` (TIFF) instead; alpha is composited at full precision with a single
  rounding to 8 bit.
* **CMYK / YCbCr / LAB** use Pillow's ``convert("RGB")`` (no colour management).
* 32-bit float (``F``) and 32-bit integer (``I``, except Pillow's 16-bit PNG greyscale) images
  have no defined value range and raise :class:`~jpegnn.errors.DataError`.
* EXIF orientation is **not** applied: pixels are returned as stored, as in CompressAI and
  torchvision, so sizes match those reported in the literature.

Every failure to read a file (missing, a directory, not an image, truncated or corrupt data,
an unsupported pixel format) raises :class:`~jpegnn.errors.DataError` with a one-line message
naming the file; the underlying exception is chained for ``JPEGNN_DEBUG=1``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from jpegnn.errors import DataError

__all__ = ["load_rgb", "to_float", "scale_16_to_8"]

# Pillow modes that already hold 16-bit samples in full (greyscale only).
_I16_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
# Pillow modes whose alpha is premultiplied; converted to straight alpha before compositing.
_PREMULTIPLIED = {"RGBa", "La"}


def scale_16_to_8(v: np.ndarray) -> np.ndarray:
    """Scale 16-bit samples (0..65535) to 8 bit (0..255) by rounding to nearest.

    ``round(v * 255 / 65535)`` computed exactly in integers (``65535 = 255 * 257``, so there
    are no ties). Returns ``uint8`` of the same shape.
    """
    v = v.astype(np.int64)
    return ((v * 255 + 32767) // 65535).astype(np.uint8)


def _composite_on_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite 8-bit straight-alpha ``color`` (H x W x C) over white, rounded to nearest.

    ``alpha`` is H x W in 0..255: ``round((c * a + 255 * (255 - a)) / 255)`` (no ties: 255 is odd).
    """
    c = color.astype(np.int64)
    a = alpha.astype(np.int64)[..., None]
    num = c * a + 255 * (255 - a)
    return ((num + 127) // 255).astype(np.uint8)


def _wide_to_rgb8(arr: np.ndarray) -> np.ndarray:
    """H x W x C uint16 (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) -> H x W x 3 uint8.

    With alpha, compositing on white and the scaling to 8 bit are one exact integer expression,
    ``round((c * a + 65535 * (65535 - a)) * 255 / 65535**2)``, so there is a single rounding.
    """
    if arr.shape[2] in (2, 4):
        c = arr[..., :-1].astype(np.int64)
        a = arr[..., -1:].astype(np.int64)
        num = (c * a + 65535 * (65535 - a)) * 255
        den = 65535 * 65535  # odd, so num / den is never exactly halfway: no ties
        rgb8 = ((num + den // 2) // den).astype(np.uint8)
    else:
        rgb8 = scale_16_to_8(arr)
    if rgb8.shape[2] == 1:
        rgb8 = np.repeat(rgb8, 3, axis=2)
    return rgb8


def _read_wide(path: Path, fmt: str | None) -> np.ndarray:
    """Decode a 16-bit-per-sample PNG or TIFF at full precision as H x W x C uint16."""
    if fmt == "PNG":
        # torchvision's libpng decoder keeps all 16 bits (Pillow cannot). torchvision 0.29
        # deprecates its image codecs in favour of torchcodec; the warning is silenced here and
        # this path must move when torchvision drops decode_png.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import ImageReadMode, decode_png

            t = decode_png(torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8),
                           mode=ImageReadMode.UNCHANGED)
        return t.permute(1, 2, 0).numpy().astype(np.uint16)
    if fmt == "TIFF":
        import tifffile

        arr = np.asarray(tifffile.imread(str(path)))
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.dtype != np.uint16 or arr.shape[2] not in (1, 2, 3, 4):
            raise DataError(f"unsupported 16-bit TIFF layout {arr.shape} {arr.dtype} in {path}")
        return arr
    raise DataError(f"unsupported 16-bit {fmt} image (only PNG and TIFF are supported): {path}")


def _rawmode(im: Image.Image) -> str:
    """The raw (on-disk) sample layout Pillow will decode, e.g. ``'RGB;16B'``; '' if unknown."""
    try:
        args = im.tile[0].args if im.tile else None
    except (AttributeError, IndexError):
        return ""
    if isinstance(args, tuple):
        args = args[0] if args else None
    return args if isinstance(args, str) else ""


def _pil_to_rgb8(im: Image.Image, path: Path) -> np.ndarray:
    """Convert a loaded Pillow image (any mode) to H x W x 3 uint8 under the module's rules."""
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return np.array(im, dtype=np.uint8)
    if mode in _I16_MODES:
        grey = np.array(im).astype(np.uint16)
        return _wide_to_rgb8(grey[..., None])
    if mode == "I":
        # Pillow < 10 opened 16-bit greyscale PNGs as 32-bit "I", and Pillow opens 16-bit PGM
        # (maxval 256..65535, rescaled by Pillow to 0..65535) as "I"; any other "I" image
        # (32-bit integer TIFF, ...) has no defined white level.
        grey = np.array(im)
        if im.format in ("PNG", "PPM") and grey.size and grey.min() >= 0 and grey.max() <= 65535:
            return _wide_to_rgb8(grey.astype(np.uint16)[..., None])
        raise DataError(f"unsupported 32-bit integer image (no defined white level): {path}")
    if mode == "F":
        raise DataError(
            f"unsupported 32-bit floating-point image (value range is ambiguous; save it as "
            f"8- or 16-bit PNG): {path}"
        )
    has_alpha = mode in ("RGBA", "LA", "PA") or mode in _PREMULTIPLIED
    if "transparency" in im.info or has_alpha:
        rgba = np.array(im.convert("RGBA"), dtype=np.uint8)
        return _composite_on_white(rgba[..., :3], rgba[..., 3])
    return np.array(im.convert("RGB"), dtype=np.uint8)


def load_rgb(path: str | os.PathLike) -> torch.Tensor:
    """Read an image file as 8-bit RGB.

    Args:
        path: Image file (any format Pillow reads: PNG, JPEG, BMP, TIFF, WebP, PPM, ...).

    Returns:
        ``torch.uint8`` tensor of shape ``3 x H x W`` (values 0..255), contiguous and writable.
        See the module docstring for how grey, alpha, palette and 16-bit files are converted.

    Raises:
        DataError: The file is missing, not a file, not an image, truncated, corrupt or in an
            unsupported pixel format. The message names ``path``.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            fmt = im.format
            wide = ";16" in _rawmode(im) and im.mode not in _I16_MODES and im.mode != "I"
            if wide:
                try:
                    wide_arr = _read_wide(path, fmt)
                except (RuntimeError, ValueError) as e:  # torchvision/tifffile decoder errors
                    raise DataError(f"cannot read image {path}: corrupt or truncated 16-bit {fmt} data") from e
                rgb = _wide_to_rgb8(wide_arr)
            else:
                im.load()  # decode everything now so truncated data fails here
                rgb = _pil_to_rgb8(im, path)
    except DataError:
        raise
    except FileNotFoundError as e:
        raise DataError(f"image file not found: {path}") from e
    except IsADirectoryError as e:
        raise DataError(f"expected an image file, got a directory: {path}") from e
    except MemoryError:
        raise
    except Image.UnidentifiedImageError as e:
        raise DataError(f"not an image file (unrecognised format): {path}") from e
    except Exception as e:  # noqa: BLE001 - Pillow plugins raise many types on corrupt data
        reason = str(e).strip() or type(e).__name__
        raise DataError(f"cannot read image {path}: {reason}") from e
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise DataError(f"image has an unusable shape {rgb.shape}: {path}")
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def to_float(image: torch.Tensor) -> torch.Tensor:
    """Convert an 8-bit image tensor to ``float32`` in ``[0, 1]`` (value / 255).

    Args:
        image: ``torch.uint8`` tensor of any shape (usually ``3 x H x W``).

    Returns:
        ``torch.float32`` tensor of the same shape; 0 -> 0.0 and 255 -> 1.0 exactly.

    Raises:
        TypeError: ``image`` is not ``torch.uint8`` (a programming error, not a data error).
    """
    if image.dtype != torch.uint8:
        raise TypeError(f"to_float expects a torch.uint8 tensor, got {image.dtype}")
    return image.to(torch.float32).div_(255.0)
