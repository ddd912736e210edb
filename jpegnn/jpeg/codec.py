"""DiffJPEG: a differentiable baseline JPEG codec that follows libjpeg(-turbo) step by step.

Pipeline (forward = decode(encode(x))), all batched tensor ops, no per-block Python loops:

1. ``x`` in [0, 1] -> 8-bit samples (round, clamp), JFIF RGB -> YCbCr with libjpeg's fixed-point
   constants (exact integers), centered by -128 (:mod:`jpegnn.jpeg.color`).
2. Edge padding like libjpeg: the last column/row is replicated up to the component's block grid
   (chroma: columns replicated at full resolution up to the MCU width, rows replicated after
   downsampling), chroma box-downsampled with libjpeg's alternating bias
   (:mod:`jpegnn.jpeg.sampling`).
3. 8x8 DCT as one 64x64 GEMM over reshaped blocks (:mod:`jpegnn.jpeg.dct`), ``y = F / Q``
   (orthonormal units), quantizer surrogate (:mod:`jpegnn.jpeg.rounding`).
4. Dequantize + IDCT in one GEMM, round and clamp to 8 bits, libjpeg's "fancy" triangular chroma
   upsampling, YCbCr -> RGB with libjpeg's fixed-point constants, clamp, crop to H x W.

Every integer rounding of a sample plane is straight-through, so gradients reach ``x`` and the
tables. The float DCT differs from libjpeg's integer ``islow`` DCT by fixed-point rounding only;
against Pillow's own decode this reaches about 50 dB PSNR (see ``benchmarks/jpeg_fidelity_kodak.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from jpegnn.errors import ConfigError
from jpegnn.jpeg.color import rgb_to_y_cbcr, y_cbcr_to_rgb
from jpegnn.jpeg.islow import fdct_islow, idct_islow, quantize_islow
from jpegnn.jpeg.dct import blockify, dct_quant_scale, inverse_dct_dequant, plane_roundtrip, unblockify
from jpegnn.jpeg.rounding import check_surrogate, quantize, round_half_away, ste_clamp, ste_round
from jpegnn.jpeg.sampling import SUBSAMPLING, check_subsampling, downsample, fancy_upsample
from jpegnn.jpeg.tables import as_table_stack, quality_tables


@dataclass
class Geometry:
    """Block layout of a JPEG image (libjpeg's ``jdinput.c`` / ``jcmaster.c`` arithmetic)."""

    height: int
    width: int
    subsampling: str

    @property
    def factors(self) -> tuple[int, int]:
        """(horizontal, vertical) luma sampling factors (chroma has 1, 1)."""
        return SUBSAMPLING[self.subsampling]

    @property
    def chroma_size(self) -> tuple[int, int]:
        """True (height, width) of the chroma components in samples."""
        fh, fv = self.factors
        return -(-self.height // fv), -(-self.width // fh)

    @property
    def luma_blocks(self) -> tuple[int, int]:
        """(rows, cols) of Y blocks holding image data (``height_in_blocks, width_in_blocks``)."""
        return -(-self.height // 8), -(-self.width // 8)

    @property
    def chroma_blocks(self) -> tuple[int, int]:
        ch, cw = self.chroma_size
        return -(-ch // 8), -(-cw // 8)

    @property
    def mcus(self) -> tuple[int, int]:
        """(rows, cols) of MCUs in the interleaved scan."""
        fh, fv = self.factors
        return -(-self.height // (8 * fv)), -(-self.width // (8 * fh))


@dataclass
class JPEGCoefficients:
    """Quantized DCT coefficients of a batch, as a baseline JPEG encoder would store them.

    Attributes:
        groups: one tensor per component (Y, Cb, Cr), each ``(B, 1, nby, nbx, 64)`` of
            integer-valued floats in natural row-major coefficient order (``8u + v``). Only the
            blocks holding image data are stored; the extra "dummy" blocks libjpeg appends to
            complete the last MCU are the bit counter's business.
        unrounded: ``y = F / Q`` before rounding, same layout (input of smooth rate models).
        steps: ``(3, 64)`` quantizer steps used for Y, Cb, Cr (float; integers in eval mode).
        geometry: image size and subsampling.
        num_tables: how many quantization tables the file stores (2: luma, chroma; 3: Y, Cb, Cr),
            set by :meth:`DiffJPEG.encode`; None: 2 when the Cb and Cr steps are equal, else 3.
    """

    groups: list
    unrounded: list
    steps: torch.Tensor
    geometry: Geometry
    num_tables: int | None = None

    def file_tables(self) -> torch.Tensor:
        """The integer tables ``(num_tables, 8, 8)`` the file stores (its DQT segments)."""
        steps = round_half_away(self.steps.detach()).clamp(1, 32767).reshape(3, 8, 8)
        n = self.num_tables
        if n is None:
            n = 2 if torch.equal(steps[1], steps[2]) else 3
        return steps if n == 3 else steps[:2]

    @property
    def components(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per component (Y, Cb, Cr) ``(B, nby, nbx, 8, 8)`` views, ``[..., u, v]`` =
        [vertical, horizontal] frequency."""
        comps = [g[:, i] for g in self.groups for i in range(g.shape[1])]
        return tuple(c.reshape(*c.shape[:3], 8, 8) for c in comps)

    @property
    def tables(self) -> torch.Tensor:
        """``(3, 8, 8)`` per-component quantization tables."""
        return self.steps.reshape(3, 8, 8)

    @property
    def batch_size(self) -> int:
        return self.groups[0].shape[0]


def _pad_replicate(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Replicate the last row/column of ``(B, C, h, w)`` up to ``height x width``."""
    h, w = t.shape[-2:]
    if h == height and w == width:
        return t
    return F.pad(t, (0, width - w, 0, height - h), mode="replicate")


def _crop(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Top-left ``height x width`` of ``t`` (no graph node when nothing is cut)."""
    if t.shape[-2] == height and t.shape[-1] == width:
        return t
    return t[..., :height, :width]


def _check_image(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ConfigError(f"x: expected a Bx3xHxW RGB tensor in [0, 1], got {shape}")
    if x.shape[0] < 1 or x.shape[-1] < 1 or x.shape[-2] < 1:
        raise ConfigError(f"x: empty image batch {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ConfigError(f"x: expected a floating point tensor in [0, 1], got {x.dtype}")
    # on every forward pass: min and max (NaN propagates into both, an inf shows in one) are one
    # reduction, 17x cheaper than isfinite(x).all(), which cost 16 % of a 16x3x256x256 training step
    lo, hi = torch.aminmax(x.detach())
    if not bool(torch.isfinite(lo) & torch.isfinite(hi)):
        raise ConfigError("x: contains NaN or infinite values")


def _check_steps(steps) -> None:
    if not isinstance(steps, torch.Tensor) or steps.numel() != 3 * 64 or steps.shape[0] != 3:
        shape = tuple(steps.shape) if isinstance(steps, torch.Tensor) else type(steps).__name__
        raise ConfigError(f"steps: expected (3, 64) quantizer steps for Y, Cb, Cr, got {shape}")


def _encoder_planes(x: torch.Tensor, geo: Geometry) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB -> the centered, edge-padded Y plane ``(B, 1, ., .)`` and the (downsampled) Cb/Cr pair
    ``(B, 2, ., .)``, each a whole number of 8x8 blocks, as libjpeg feeds them to the forward
    DCT. Cb and Cr travel as one tensor so every chroma stage is one op for both."""
    y_plane, c_plane = rgb_to_y_cbcr(x)
    fh, fv = geo.factors
    nby, nbx = geo.luma_blocks
    y_plane = _pad_replicate(y_plane, 8 * nby, 8 * nbx)
    if (fh, fv) == (1, 1):
        return y_plane, _pad_replicate(c_plane, 8 * nby, 8 * nbx)
    cby, cbx = geo.chroma_blocks
    ch, _ = geo.chroma_size
    c_plane = downsample(_pad_replicate(c_plane, ch * fv, 8 * cbx * fh), geo.subsampling)
    return y_plane, _pad_replicate(c_plane, 8 * cby, 8 * cbx)


def _decoder_output(y: torch.Tensor, c: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """Decoded centered Y plane and Cb/Cr pair (IDCT output, block-padded) -> cropped,
    fancy-upsampled, colour-converted RGB ``(B, 3, H, W)`` in [0, 1]."""
    H, W = geo.height, geo.width
    if geo.factors == (1, 1):
        c = _crop(c, H, W)
    else:
        ch, cw = geo.chroma_size
        c = _crop(fancy_upsample(_crop(c, ch, cw), geo.subsampling), H, W)
    return y_cbcr_to_rgb(_crop(y, H, W), c)


def roundtrip(
    x: torch.Tensor, steps: torch.Tensor, subsampling: str = "4:2:0", mode: str = "round",
    shared_chroma: bool = False,
) -> torch.Tensor:
    """``decode(encode(x))`` with the float DCT in one pass per component, for a quantizer with
    identity gradient (``mode="round"``: libjpeg rounding, straight-through; ``"noise"``:
    additive uniform noise). Same output values and gradients as the unfused chain (tested),
    cheaper backward (:func:`jpegnn.jpeg.dct.plane_roundtrip`); no coefficients are kept.
    ``shared_chroma``: Cb and Cr use the same step tensor ``steps[1]`` (one table for both),
    so both run as one batch; otherwise ``steps[1]`` and ``steps[2]`` are applied separately."""
    _check_image(x)
    _check_steps(steps)
    steps = steps.reshape(3, 64)
    geo = Geometry(x.shape[-2], x.shape[-1], check_subsampling(subsampling))
    y, c = _encoder_planes(x, geo)
    y = plane_roundtrip(y, steps[0], mode)
    if shared_chroma:
        c = plane_roundtrip(c, steps[1], mode)
    else:
        c = torch.cat([plane_roundtrip(c[:, i : i + 1], steps[1 + i], mode) for i in range(2)], 1)
    return _decoder_output(y, c, geo)


def encode(
    x: torch.Tensor,
    steps: torch.Tensor,
    subsampling: str = "4:2:0",
    rounding: str = "ste",
    training: bool = False,
    dct: str = "float",
) -> JPEGCoefficients:
    """Encode RGB ``x`` (B, 3, H, W) in [0, 1] to quantized coefficients.

    ``steps``: ``(3, 64)`` quantizer steps for Y, Cb, Cr (row-major tables, may carry gradients).
    ``rounding``/``training``: quantizer surrogate, see :func:`jpegnn.jpeg.rounding.quantize`.
    ``dct``: ``"float"`` (differentiable GEMM DCT) or ``"islow"``: the quantized values are
    replaced by libjpeg's own integer-DCT result (:mod:`jpegnn.jpeg.islow`, steps rounded to
    integers), keeping the float path's gradient (straight-through). With ``"islow"`` the
    coefficients, hence :func:`jpeg_size`, equal libjpeg's exactly; only meaningful with hard
    rounding (eval mode or ``"ste"``).
    """
    if dct not in ("float", "islow"):
        raise ConfigError(f"dct must be 'float' or 'islow', got {dct!r}")
    _check_image(x)
    _check_steps(steps)
    steps = steps.reshape(3, 64)
    geo = Geometry(x.shape[-2], x.shape[-1], check_subsampling(subsampling))
    y_plane, c_plane = _encoder_planes(x, geo)
    planes = [y_plane, c_plane[:, 0:1], c_plane[:, 1:2]]
    groups, unrounded = [], []
    for plane, st in zip(planes, steps):
        blocks = blockify(plane)
        y = dct_quant_scale(blocks, st)
        unrounded.append(y)
        q = quantize(y, rounding, training)
        if dct == "islow":
            with torch.no_grad():
                qt = round_half_away(st.detach()).clamp(1, 32767).reshape(8, 8)
                exact = quantize_islow(fdct_islow(blocks.detach().reshape(*blocks.shape[:-1], 8, 8)), qt)
                exact = exact.reshape(blocks.shape).to(q.dtype)
            q = q + (exact - q).detach() if q.requires_grad else exact
        groups.append(q)
    return JPEGCoefficients(groups, unrounded, steps, geo)


def decode(coefs: JPEGCoefficients, steps: torch.Tensor | None = None, dct: str = "float") -> torch.Tensor:
    """Decode quantized coefficients to RGB (B, 3, H, W) in [0, 1] like libjpeg: IDCT rounded and
    clamped to 8 bits, fancy upsampling, fixed-point colour conversion.

    ``dct="float"``: one differentiable GEMM (about 50 dB from Pillow's decode); ``"islow"``:
    the forward values come from libjpeg's integer IDCT (:func:`jpegnn.jpeg.islow.idct_islow`,
    steps rounded to integers) with the float path's gradient, which makes the whole decode
    bit-identical to Pillow's for libjpeg's coefficients.
    """
    if dct not in ("float", "islow"):
        raise ConfigError(f"dct must be 'float' or 'islow', got {dct!r}")
    steps = coefs.steps if steps is None else steps
    geo = coefs.geometry
    planes = []
    for g, st in zip(coefs.groups, steps):
        samples = inverse_dct_dequant(g, st)  # plane (B, 1, 8 nby, 8 nbx)
        if dct == "islow":
            with torch.no_grad():
                qt = round_half_away(st.detach()).clamp(1, 32767).to(torch.int64)
                deq = torch.round(g.detach()).to(torch.int64) * qt
                exact = idct_islow(deq.reshape(*g.shape[:-1], 8, 8)).reshape(g.shape).to(samples.dtype)
                exact = unblockify(exact)
            samples = samples + (exact - samples).detach()
        planes.append(samples)
    return _decoder_output(planes[0], torch.cat(planes[1:], 1), geo)


def _softplus_inv(t: torch.Tensor) -> torch.Tensor:
    return t + torch.log(-torch.expm1(-t))


class DiffJPEG(nn.Module):
    """Differentiable baseline JPEG (libjpeg-faithful forward), with optional learnable tables.

    Args:
        quality: IJG quality 1..100 giving the (initial) Annex K tables; ignored when ``tables``
            is given or ``init="random"``.
        subsampling: ``"4:2:0"`` (Pillow's default), ``"4:2:2"`` or ``"4:4:4"``.
        learnable: make the quantization tables trainable parameters.
        rounding: quantizer surrogate used in training mode: ``"ste"`` (default; hard round
            forward, identity gradient: forward distortion and coefficients are the real
            codec's), ``"noise"`` (additive U(-0.5, 0.5): **biases** the forward distortion) or
            ``"cubic"`` (Reich et al. 2024, ``round(y) + (y - round(y))**3``: **biases** the
            forward distortion, about 0.3-0.7 dB optimistic PSNR). Eval mode always rounds hard.
        tables: explicit initial tables, 2 ``(luma, chroma)`` or 3 ``(Y, Cb, Cr)`` 8x8 row-major.
        separate_chroma: learn separate Cb and Cr tables (3 tables) instead of one chroma table.
        init: ``"quality"`` (from ``quality``/``tables``) or ``"random"`` (uniform in
            ``random_range``, seeded by ``seed``).
        round_tables_in_training: use the rounded, [1, 255]-clamped tables (straight-through)
            during training too, so training sees exactly the exported codec.
        dct: ``"float"`` (default): DCT/IDCT as float GEMMs, about 50 dB PSNR from Pillow's
            decode, fastest. ``"islow"``: forward values from libjpeg's integer DCT, quantizer
            and IDCT (int64, slower), gradients from the float path (straight-through): with
            hard rounding and integer tables the output is **bit-identical** to Pillow's decode
            and :meth:`encode` returns libjpeg's exact coefficients.

    Learnable tables are parameterized as ``Q = 1 + softplus(raw)`` (always >= 1). In training
    mode the forward uses ``Q`` clamped to <= 255 (straight-through clamp); in eval mode it uses
    :meth:`integer_tables`, the rounded tables clamped to [1, 255] that a baseline encoder stores.
    """

    def __init__(
        self,
        quality: int = 75,
        subsampling: str | int = "4:2:0",
        learnable: bool = False,
        rounding: str = "ste",
        *,
        tables=None,
        separate_chroma: bool = False,
        init: str = "quality",
        random_range: tuple[float, float] = (1.0, 255.0),
        seed: int | None = None,
        round_tables_in_training: bool = False,
        dct: str = "float",
    ) -> None:
        super().__init__()
        self.subsampling = check_subsampling(subsampling)
        self.rounding = check_surrogate(rounding)
        self.learnable = bool(learnable)
        self.round_tables_in_training = bool(round_tables_in_training)
        if dct not in ("float", "islow"):
            raise ConfigError(f"dct must be 'float' or 'islow', got {dct!r}")
        self.dct = dct
        if init == "quality":
            if tables is None:
                t = torch.stack(quality_tables(quality)).to(torch.float32)
            else:
                t = as_table_stack(tables).to(torch.float32)
                if not torch.isfinite(t).all() or (t <= 0).any():
                    raise ConfigError("tables: entries must be finite and positive")
        elif init == "random":
            lo, hi = random_range
            if not 1.0 <= lo < hi:
                raise ConfigError(f"random_range must satisfy 1 <= low < high, got {random_range}")
            gen = torch.Generator().manual_seed(seed) if seed is not None else None
            n = 3 if separate_chroma else 2
            t = lo + (hi - lo) * torch.rand(n, 8, 8, generator=gen)
        else:
            raise ConfigError(f"init must be 'quality' or 'random', got {init!r}")
        if separate_chroma and t.shape[0] == 2:
            t = torch.cat([t, t[1:]])
        self.num_tables = t.shape[0]
        if self.learnable:
            self.raw_tables = nn.Parameter(_softplus_inv((t - 1.0).clamp_min(1e-3)))
        else:
            self.register_buffer("fixed_tables", t)

    # ------------------------------------------------------------------ tables
    def continuous_tables(self) -> torch.Tensor:
        """``(n, 8, 8)`` real-valued tables (learnable: ``1 + softplus(raw)``)."""
        if self.learnable:
            return 1.0 + F.softplus(self.raw_tables)
        return self.fixed_tables

    def current_tables(self) -> torch.Tensor:
        """``(n, 8, 8)`` tables the forward pass uses in the current mode (see class doc)."""
        t = self.continuous_tables()
        if self.training and not self.round_tables_in_training:
            return ste_clamp(t, 1.0, 255.0)
        return ste_clamp(ste_round(t), 1.0, 255.0)

    def integer_tables(self) -> tuple[torch.Tensor, ...]:
        """The int64 tables a baseline encoder would write: ``(luma, chroma)`` or
        ``(Y, Cb, Cr)``, rounded (half away from zero, as the eval-mode forward rounds them) and
        clamped to [1, 255], 8x8 row-major."""
        t = self.continuous_tables().detach()
        return tuple(round_half_away(t).clamp(1, 255).to(torch.int64).cpu().unbind(0))

    def steps(self) -> torch.Tensor:
        """``(3, 64)`` per-component quantizer steps (Y, Cb, Cr) for the current mode."""
        t = self.current_tables().reshape(-1, 64)
        return t if t.shape[0] == 3 else t[[0, 1, 1]]

    # ------------------------------------------------------------------ codec
    def encode(self, x: torch.Tensor) -> JPEGCoefficients:
        """Quantized DCT coefficients of ``x`` (B, 3, H, W) in [0, 1]."""
        coefs = encode(
            x, self.steps().to(x.dtype), self.subsampling, self.rounding, self.training, self.dct
        )
        coefs.num_tables = self.num_tables
        return coefs

    def decode(self, coefs: JPEGCoefficients) -> torch.Tensor:
        """RGB (B, 3, H, W) in [0, 1] from :meth:`encode`'s output."""
        return decode(coefs, dct=self.dct)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(encode(x))``. With the float DCT and a quantizer whose gradient is the
        identity (eval mode, ``"ste"`` or ``"noise"``) this runs the fused per-component
        round trip (:func:`roundtrip`): same values and gradients, faster backward (with
        ``"noise"`` and one shared chroma table the noise is drawn for Cb and Cr together, so
        for a given seed the draws differ from ``decode(encode(x))``'s; same distribution)."""
        if self.dct == "float" and (not self.training or self.rounding in ("ste", "noise")):
            mode = "noise" if self.training and self.rounding == "noise" else "round"
            return roundtrip(x, self.steps().to(x.dtype), self.subsampling, mode, self.num_tables == 2)
        return decode(self.encode(x), dct=self.dct)

    def extra_repr(self) -> str:
        return (
            f"subsampling={self.subsampling!r}, learnable={self.learnable}, "
            f"rounding={self.rounding!r}, num_tables={self.num_tables}, dct={self.dct!r}"
        )


__all__ = ["DiffJPEG", "JPEGCoefficients", "Geometry", "encode", "decode", "roundtrip"]
