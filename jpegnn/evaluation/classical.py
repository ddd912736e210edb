"""Classical image codecs through Pillow, per-image evaluation, and rate matching (target bpp).

Codecs (all real bitstreams produced in memory; ``bpp = len(bytes) * 8 / (W * H)``):

=================  ==========================================================================
name               what is run
=================  ==========================================================================
``jpeg``           libjpeg(-turbo) baseline JPEG, 4:2:0 chroma subsampling, standard Huffman
                   tables (Pillow's defaults; what CompressAI's ``bench jpeg`` runs)
``jpeg444``        the same with 4:4:4 (no chroma subsampling)
``jpeg-opt``       ``jpeg`` with ``optimize=True`` (per-image optimal Huffman tables; identical
                   pixels, 2-25 % fewer bytes)
``jpeg444-opt``    ``jpeg444`` with ``optimize=True``
``webp``           libwebp lossy, Pillow's default settings (what CompressAI's ``bench webp`` runs)
``jpeg2000``       OpenJPEG, raw J2K codestream, irreversible 9/7 wavelet with the RGB->YCbCr
                   component transform, one quality layer in ``quality_mode="dB"``: quality
                   ``q`` asks OpenJPEG for a target PSNR of ``22 + 0.25 q`` dB (q=5: 23.25 dB,
                   q=50: 34.5 dB, q=95: 45.75 dB), so 5..95 spans about the PSNR range of JPEG 5..95 and the
                   rate rises with q
``avif``           libavif (AV1 still image), 4:2:0, speed 6, one encoder thread; only when the
                   installed Pillow was built with AVIF (``PIL.features.check("avif")``)
=================  ==========================================================================

Quality is the integer Pillow ``quality`` (1..100 for JPEG, 0..100 for WebP / AVIF) except for
JPEG 2000 (mapping above). Per image and quality we record encode and decode wall time
(seconds, the Pillow call only), bpp, PSNR-RGB (dB) and MS-SSIM-RGB (linear), measured with the
conventions of :mod:`jpegnn.metrics.image_quality` via :mod:`jpegnn.evaluation.fast_quality`.

Why this is faster than ``python -m compressai.utils.bench`` (measured on a 768x512 Kodak image,
one core): CompressAI decodes the source PNG twice per (image, quality) pair (2 x 14 ms),
converts the decode to a float tensor and runs ``pytorch_msssim`` (separable filter, but
channels-first and five filtered maps per scale, nothing cached: 135 ms), and its worker
processes keep torch's default thread count, so ``-j 2`` on two cores runs four OpenMP threads
that contend. Here each worker reads an image once, caches the reference's MS-SSIM statistics,
runs every codec and quality on it and filters three channels-last maps per scale in cached row
bands (~25 ms per decode) on one thread per process.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import PIL
from PIL import Image, features

from jpegnn.errors import ConfigError
from jpegnn.evaluation.fast_quality import ReferenceQuality
from jpegnn.evaluation.protocol import Codec, CodecResult, as_uint8_hwc

__all__ = [
    "DEFAULT_QUALITIES",
    "PillowCodec",
    "JpegCodec",
    "WebPCodec",
    "Jpeg2000Codec",
    "AvifCodec",
    "CODECS",
    "available_codecs",
    "get_codec",
    "evaluate_image",
    "evaluate_codec_on_image",
    "find_quality_for_bpp",
    "row_at_target_bpp",
    "jpeg_at_bpp",
    "RateMonotonicityWarning",
]

#: CompressAI's ``examples/run-benchmarks.sh`` sweep for JPEG / WebP / JPEG 2000: 5, 10, ..., 95
DEFAULT_QUALITIES: tuple[int, ...] = tuple(range(5, 100, 5))


class RateMonotonicityWarning(UserWarning):
    """bpp did not rise with quality during a target-bpp search; a full scan was used instead."""


_LIB_LABELS = {"libjpeg_turbo": "libjpeg-turbo", "jpg": "libjpeg", "webp": "libwebp", "jpg_2000": "OpenJPEG", "avif": "libavif"}


def _lib_versions(feats: Sequence[str]) -> str:
    """``"Pillow X, libfoo Y"`` for the Pillow features ``feats`` (the first one found wins)."""
    parts = [f"Pillow {PIL.__version__}"]
    for feat in feats:
        label = _LIB_LABELS.get(feat, feat)
        try:
            v = features.version(feat)
        except Exception:  # noqa: BLE001 - unknown feature names on old Pillow
            v = None
        if v:
            parts.append(f"{label} {v}")
            break
    return ", ".join(parts)


@dataclass(frozen=True)
class PillowCodec:
    """A codec run through ``PIL.Image.save`` / ``PIL.Image.open`` on in-memory buffers.

    Subclasses set :attr:`fmt` and implement :meth:`save_params`. Instances are small, frozen
    and picklable, so they can be sent to worker processes.
    """

    name: str
    label: str
    fmt: str = ""
    quality_range: tuple[int, int] = (1, 100)
    default_qualities: tuple[int, ...] = DEFAULT_QUALITIES
    parallel_safe: bool = True
    #: Pillow feature names whose library version is recorded in :attr:`description`
    libraries: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return f"{self.label}. {_lib_versions(self.libraries)}. Settings: {self.settings()}. {_METRIC_NOTE}"

    def settings(self) -> str:
        """Human-readable encoder settings (for the results JSON)."""
        return ", ".join(f"{k}={v!r}" for k, v in self.save_params(50).items() if k != "quality")

    def save_params(self, quality: int) -> dict[str, Any]:
        """Keyword arguments of ``Image.save`` for ``quality``."""
        raise NotImplementedError

    def check_quality(self, quality: int) -> int:
        lo, hi = self.quality_range
        q = int(quality)
        if q != quality or not lo <= q <= hi:
            raise ConfigError(f"{self.name}: quality must be an integer in [{lo}, {hi}], got {quality!r}")
        return q

    def encode(self, img: Image.Image | np.ndarray, quality: int) -> bytes:
        """The bitstream of ``img`` (PIL image or H x W x 3 uint8) at ``quality``."""
        pil = img if isinstance(img, Image.Image) else Image.fromarray(img, "RGB")
        buf = io.BytesIO()
        pil.save(buf, format=self.fmt, **self.save_params(self.check_quality(quality)))
        return buf.getvalue()

    def encoded_size(self, img: Image.Image | np.ndarray, quality: int) -> int:
        """Bitstream size in bytes (used by the target-bpp search)."""
        return len(self.encode(img, quality))

    def encode_decode(self, img: np.ndarray, quality: int) -> CodecResult:
        """Encode ``img`` (H x W x 3 uint8) at ``quality`` and decode it; times in seconds."""
        q = self.check_quality(quality)
        pil = Image.fromarray(img, "RGB")
        params = self.save_params(q)
        buf = io.BytesIO()
        t0 = time.perf_counter()
        pil.save(buf, format=self.fmt, **params)
        t1 = time.perf_counter()
        data = buf.getvalue()
        t2 = time.perf_counter()
        with Image.open(io.BytesIO(data)) as rec:
            rec.load()
            t3 = time.perf_counter()
            if rec.mode != "RGB":
                rec = rec.convert("RGB")
            decoded = np.asarray(rec)
        return CodecResult(len(data), decoded, t1 - t0, t3 - t2)


_METRIC_NOTE = (
    "bpp from the real in-memory bitstream; PSNR-RGB (dB) and MS-SSIM-RGB (pytorch_msssim, as CompressAI's "
    "eval_model: 5 scales, data range 255) on 8-bit images, averaged over images"
)


@dataclass(frozen=True)
class JpegCodec(PillowCodec):
    """Baseline JPEG through Pillow (libjpeg-turbo). ``subsampling``: 2 = 4:2:0, 0 = 4:4:4."""

    fmt: str = "JPEG"
    libraries: tuple[str, ...] = ("libjpeg_turbo", "jpg")
    subsampling: int = 2
    optimize: bool = False

    def save_params(self, quality: int) -> dict[str, Any]:
        return {"quality": int(quality), "subsampling": self.subsampling, "optimize": self.optimize}


@dataclass(frozen=True)
class WebPCodec(PillowCodec):
    """Lossy WebP through Pillow with its default method, like CompressAI's ``bench webp``."""

    fmt: str = "WEBP"
    libraries: tuple[str, ...] = ("webp",)
    quality_range: tuple[int, int] = (0, 100)

    def save_params(self, quality: int) -> dict[str, Any]:
        return {"quality": int(quality), "lossless": False}


def _j2k_target_db(quality: int) -> float:
    """JPEG 2000 quality -> OpenJPEG target PSNR in dB (see the module docstring)."""
    return 22.0 + 0.25 * quality


@dataclass(frozen=True)
class Jpeg2000Codec(PillowCodec):
    """JPEG 2000 (OpenJPEG): 9/7 wavelet + MCT, one layer with target PSNR ``22 + 0.25 q`` dB."""

    fmt: str = "JPEG2000"
    libraries: tuple[str, ...] = ("jpg_2000",)

    def save_params(self, quality: int) -> dict[str, Any]:
        return {
            "quality_mode": "dB",
            "quality_layers": [_j2k_target_db(quality)],
            "irreversible": True,
            "mct": 1,
            "no_jp2": True,
        }

    def settings(self) -> str:
        return "quality q -> quality_mode='dB', quality_layers=[22 + 0.25*q], irreversible=True, mct=1, raw J2K codestream"


@dataclass(frozen=True)
class AvifCodec(PillowCodec):
    """AVIF through Pillow's libavif plugin (4:2:0, speed 6, single-threaded encoder)."""

    fmt: str = "AVIF"
    libraries: tuple[str, ...] = ("avif",)
    quality_range: tuple[int, int] = (0, 100)
    subsampling: str = "4:2:0"
    speed: int = 6

    def save_params(self, quality: int) -> dict[str, Any]:
        return {"quality": int(quality), "subsampling": self.subsampling, "speed": self.speed, "max_threads": 1}


@dataclass(frozen=True)
class _Entry:
    factory: Callable[[], PillowCodec]
    feature: str | None = None  # PIL.features name that must be available
    help: str = ""

    def available(self) -> bool:
        if self.feature is None:
            return True
        try:
            return bool(features.check(self.feature))
        except Exception:  # noqa: BLE001
            return False


#: name -> registry entry; :func:`get_codec` builds the codec
CODECS: dict[str, _Entry] = {
    "jpeg": _Entry(lambda: JpegCodec("jpeg", "JPEG 4:2:0 (Pillow)"), "jpg", "baseline JPEG, 4:2:0"),
    "jpeg444": _Entry(lambda: JpegCodec("jpeg444", "JPEG 4:4:4 (Pillow)", subsampling=0), "jpg", "baseline JPEG, 4:4:4"),
    "jpeg-opt": _Entry(
        lambda: JpegCodec("jpeg-opt", "JPEG 4:2:0 optimized Huffman (Pillow)", optimize=True), "jpg",
        "JPEG 4:2:0 with optimized Huffman tables",
    ),
    "jpeg444-opt": _Entry(
        lambda: JpegCodec("jpeg444-opt", "JPEG 4:4:4 optimized Huffman (Pillow)", subsampling=0, optimize=True), "jpg",
        "JPEG 4:4:4 with optimized Huffman tables",
    ),
    "webp": _Entry(lambda: WebPCodec("webp", "WebP (Pillow)"), "webp", "lossy WebP, Pillow defaults"),
    "jpeg2000": _Entry(
        lambda: Jpeg2000Codec("jpeg2000", "JPEG 2000 (Pillow/OpenJPEG)"), "jpg_2000",
        "OpenJPEG, 9/7 + MCT, target PSNR 22+0.25q dB",
    ),
    "avif": _Entry(lambda: AvifCodec("avif", "AVIF 4:2:0 (Pillow/libavif)"), "avif", "AVIF 4:2:0, speed 6"),
}


def available_codecs() -> list[str]:
    """Names of the registered codecs that the installed Pillow can run."""
    return [name for name, entry in CODECS.items() if entry.available()]


def get_codec(name: str) -> PillowCodec:
    """Build the classical codec called ``name``.

    Raises:
        ConfigError: Unknown name (the message lists the known ones), or a codec the installed
            Pillow was built without (e.g. ``avif`` without libavif).
    """
    entry = CODECS.get(name)
    if entry is None:
        raise ConfigError(f"unknown codec {name!r}; known codecs: {', '.join(CODECS)}")
    if not entry.available():
        raise ConfigError(
            f"codec {name!r} is not available: Pillow {PIL.__version__} was built without "
            f"{entry.feature!r} support (PIL.features.check({entry.feature!r}) is False)"
        )
    return entry.factory()


# --------------------------------------------------------------------------------------------
# Evaluating codecs on one image


def _result_tuple(res: Any) -> CodecResult:
    """Accept a :class:`CodecResult` or a plain ``(num_bytes, decoded, enc_s, dec_s[, extra])`` tuple."""
    if isinstance(res, CodecResult):
        return res
    if isinstance(res, tuple) and len(res) in (4, 5):
        return CodecResult(*res)
    raise TypeError(f"encode_decode must return CodecResult or a 4-tuple, got {type(res).__name__}")


def _row(
    image_name: str, img: np.ndarray, codec: Codec, quality: int, res: CodecResult, ref: ReferenceQuality
) -> dict[str, Any]:
    h, w = img.shape[:2]
    decoded = as_uint8_hwc(res.decoded)
    if decoded.shape != img.shape:
        raise ValueError(f"{codec.name}: decoded shape {decoded.shape} differs from the input {img.shape}")
    row: dict[str, Any] = {
        "image": image_name,
        "codec": codec.name,
        "quality": quality,
        "width": w,
        "height": h,
        "num_bytes": int(res.num_bytes),
        "bpp": res.num_bytes * 8.0 / (w * h),
        "bpp_estimated": None,
        "psnr_rgb": ref.psnr(decoded),
        "ms_ssim_rgb": ref.ms_ssim(decoded),
        "encoding_time": float(res.encoding_time),
        "decoding_time": float(res.decoding_time),
    }
    row.update(dict(res.extra or {}))
    return row


def evaluate_codec_on_image(
    codec: Codec,
    img: np.ndarray,
    qualities: Iterable[int],
    image_name: str = "",
    ref: ReferenceQuality | None = None,
) -> list[dict[str, Any]]:
    """Per-image rows (see ``jpegnn.evaluation.results.PER_IMAGE_FIELDS``) of ``codec`` at each quality.

    Args:
        codec: Any :class:`~jpegnn.evaluation.protocol.Codec`.
        img: H x W x 3 uint8 original.
        qualities: Rate points to run.
        image_name: Value of the ``image`` column.
        ref: Cached reference statistics of ``img`` (built if not given; pass one to share it
            between codecs).
    """
    ref = ref or ReferenceQuality(img)
    return [
        _row(image_name, img, codec, int(q), _result_tuple(codec.encode_decode(img, int(q))), ref)
        for q in qualities
    ]


def _bpp_of(codec: Codec, img: np.ndarray, quality: int) -> float:
    h, w = img.shape[:2]
    size_fn = getattr(codec, "encoded_size", None)
    n = size_fn(img, quality) if size_fn is not None else _result_tuple(codec.encode_decode(img, quality)).num_bytes
    return n * 8.0 / (w * h)


def find_quality_for_bpp(
    codec: Codec, img: np.ndarray, target_bpp: float, quality_range: tuple[int, int] | None = None
) -> tuple[int, float]:
    """The integer quality whose bpp on ``img`` is closest to ``target_bpp``, by bisection.

    Bisection assumes bpp rises with quality and needs about log2(range) + 2 encodes (no decode).
    It is guarded: if the bpps it saw (for a target beyond either end: both ends and the middle)
    are not monotone in quality, a
    :class:`RateMonotonicityWarning` is issued and every quality in the range is tried instead.
    Targets outside the reachable range give the lowest / highest quality. Ties go to the
    lower quality.

    Args:
        codec: A codec with ``quality_range`` (or pass ``quality_range``).
        img: H x W x 3 uint8 image.
        target_bpp: Target rate in bits per pixel (> 0).
        quality_range: Inclusive ``(lo, hi)``; default ``codec.quality_range``.

    Returns:
        ``(quality, bpp)`` of the chosen point.
    """
    if not (isinstance(target_bpp, (int, float)) and math.isfinite(target_bpp) and target_bpp > 0):
        raise ConfigError(f"target bpp must be a positive number, got {target_bpp!r}")
    qr = quality_range or getattr(codec, "quality_range", None)
    if qr is None:
        raise ConfigError(f"codec {codec.name!r} has no quality_range; cannot search a quality for a target bpp")
    lo, hi = int(qr[0]), int(qr[1])
    if lo > hi:
        raise ConfigError(f"empty quality range {qr!r}")
    seen: dict[int, float] = {}

    def bpp(q: int) -> float:
        if q not in seen:
            seen[q] = _bpp_of(codec, img, q)
        return seen[q]

    if bpp(lo) >= target_bpp or bpp(hi) <= target_bpp:
        # a target outside [bpp(lo), bpp(hi)]: the end is the answer if the rate is monotone, which
        # the middle quality checks too (noise-like images are not: another quality can be nearer)
        bpp((lo + hi) // 2)
        cands = [lo] if bpp(lo) >= target_bpp else [hi]
    else:
        a, b = lo, hi  # invariant: bpp(a) < target < bpp(b)... or == at b
        while b - a > 1:
            mid = (a + b) // 2
            if bpp(mid) >= target_bpp:
                b = mid
            else:
                a = mid
        cands = [a, b]
    qs = sorted(seen)
    if any(seen[x] > seen[y] for x, y in zip(qs, qs[1:])):
        warnings.warn(
            f"{codec.name}: bpp does not rise with quality on this image "
            f"({', '.join(f'q{q}={seen[q]:.4f}' for q in qs)}); scanning all qualities {lo}..{hi}",
            RateMonotonicityWarning,
            stacklevel=2,
        )
        cands = list(range(lo, hi + 1))
    best = min(cands, key=lambda q: (abs(bpp(q) - target_bpp), q))
    return best, bpp(best)


def row_at_target_bpp(
    codec: Codec,
    img: np.ndarray,
    target_bpp: float,
    image_name: str = "",
    ref: ReferenceQuality | None = None,
) -> dict[str, Any]:
    """The per-image row of ``codec`` at the quality whose bpp is closest to ``target_bpp``.

    Codecs with a ``quality_range`` are searched by :func:`find_quality_for_bpp`; others (e.g. a
    learned checkpoint with a few fixed rate points) are run at each of ``default_qualities`` and
    the closest is kept. The row has the extra column ``target_bpp``.
    """
    if getattr(codec, "quality_range", None) is not None:
        q, _ = find_quality_for_bpp(codec, img, target_bpp)
        rows = evaluate_codec_on_image(codec, img, [q], image_name, ref)
    else:
        if not (isinstance(target_bpp, (int, float)) and math.isfinite(target_bpp) and target_bpp > 0):
            raise ConfigError(f"target bpp must be a positive number, got {target_bpp!r}")
        rows = evaluate_codec_on_image(codec, img, list(codec.default_qualities), image_name, ref)
    row = min(rows, key=lambda r: (abs(r["bpp"] - target_bpp), r["quality"]))
    row["target_bpp"] = float(target_bpp)
    return row


def evaluate_image(
    image_name: str,
    img: np.ndarray,
    codecs: Sequence[Codec],
    qualities: Mapping[str, Sequence[int]] | None = None,
    target_bpps: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """All rows for one image: every codec at every quality (or at every target bpp).

    The reference statistics are computed once and shared by all codecs and qualities.

    Args:
        image_name: Value of the ``image`` column.
        img: H x W x 3 uint8 original.
        codecs: Codecs to run.
        qualities: codec name -> qualities (default: the codec's ``default_qualities``).
        target_bpps: If given, replaces the quality sweep: one row per codec and target, at the
            quality whose bpp is closest to the target (column ``target_bpp`` added).
    """
    ref = ReferenceQuality(img)
    rows: list[dict[str, Any]] = []
    for codec in codecs:
        if target_bpps:
            rows.extend(row_at_target_bpp(codec, img, t, image_name, ref) for t in target_bpps)
        else:
            qs = (qualities or {}).get(codec.name) or codec.default_qualities
            rows.extend(evaluate_codec_on_image(codec, img, qs, image_name, ref))
    return rows


# --------------------------------------------------------------------------------------------
# Demo helper


_SUBSAMPLING = {"4:2:0": 2, "420": 2, "4:4:4": 0, "444": 0}


def jpeg_at_bpp(
    image: Any,
    target_bpp: float,
    subsampling: str = "4:2:0",
    optimize: bool = False,
    return_decoded: bool = False,
) -> dict[str, Any]:
    """Pillow JPEG at the quality whose bpp is closest to ``target_bpp`` ("JPEG at the same rate").

    Args:
        image: PIL image, H x W x 3 uint8 array, or a 3 x H x W (or 1 x 3 x H x W) tensor,
            uint8 or float in [0, 1].
        target_bpp: Target rate in bits per pixel.
        subsampling: ``"4:2:0"`` (Pillow's default) or ``"4:4:4"``.
        optimize: Use optimized Huffman tables.
        return_decoded: Also return the decoded image (H x W x 3 uint8) under ``"decoded"``.

    Returns:
        A dict with ``quality`` (chosen, 1..100), ``bpp``, ``num_bytes``, ``psnr_rgb`` (dB),
        ``ms_ssim_rgb`` (linear; NaN when a side is 160 px or less), ``encoding_time`` / ``decoding_time`` (s),
        ``target_bpp``, ``width``, ``height``, ``codec``.
    """
    if subsampling not in _SUBSAMPLING:
        raise ConfigError(f"subsampling must be one of {', '.join(_SUBSAMPLING)}, got {subsampling!r}")
    sub = _SUBSAMPLING[subsampling]
    name = ("jpeg" if sub == 2 else "jpeg444") + ("-opt" if optimize else "")
    codec = JpegCodec(name, f"JPEG {subsampling}", subsampling=sub, optimize=optimize)
    img = as_uint8_hwc(image)
    q, _ = find_quality_for_bpp(codec, img, target_bpp)
    res = codec.encode_decode(img, q)
    row = _row("", img, codec, q, res, ReferenceQuality(img))
    row.pop("image")
    row.pop("bpp_estimated")
    row["target_bpp"] = float(target_bpp)
    if return_decoded:
        row["decoded"] = res.decoded
    return row
