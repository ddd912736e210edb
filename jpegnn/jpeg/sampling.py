"""Chroma subsampling as libjpeg does it, on centered integer planes.

Encoder (``jcsample.c``): a plain box average with an alternating rounding bias,
``h2v2_downsample``: ``(a + b + c + d + bias) >> 2`` with bias 1, 2, 1, 2, ... along each output
row; ``h2v1_downsample``: ``(a + b + bias) >> 1`` with bias 0, 1, 0, 1, ...

Decoder (``jdsample.c``, the default ``do_fancy_upsampling``): triangular ("fancy")
interpolation, ``h2v2_fancy_upsample``: vertical ``3*near + far``, then horizontal
``(3*this + neighbour + 8 or 7) >> 4`` (8 for the left output sample, 7 for the right one),
``h2v1_fancy_upsample``: ``(3*this + neighbour + 1 or 2) >> 2``. Edge samples use themselves as
the missing neighbour (edge replication), on the component's true size ``ceil(W/2) x ceil(H/2)``.
libjpeg (``jinit_upsampler``) uses fancy upsampling only when the component is more than 2
samples wide; a chroma plane 1 or 2 samples wide (image width <= 4) is upsampled by plain
replication (``h2v1_upsample`` / ``h2v2_upsample``), and so is it here.

All floors are straight-through. Subsampling modes are named like Pillow's: ``"4:4:4"``,
``"4:2:2"``, ``"4:2:0"`` (Pillow's ``subsampling=0, 1, 2``).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from jpegnn.errors import ConfigError

# name -> (horizontal, vertical) luma sampling factors relative to chroma
SUBSAMPLING = {"4:4:4": (1, 1), "4:2:2": (2, 1), "4:2:0": (2, 2)}
PILLOW_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def check_subsampling(subsampling) -> str:
    """Accept ``"4:2:0"``-style names or Pillow's integers 0/1/2; return the name."""
    if isinstance(subsampling, int) and not isinstance(subsampling, bool):
        for name, code in PILLOW_SUBSAMPLING.items():
            if code == subsampling:
                return name
    if isinstance(subsampling, str) and subsampling in SUBSAMPLING:
        return subsampling
    raise ConfigError(
        f"subsampling must be one of {', '.join(SUBSAMPLING)} (or Pillow's 0, 1, 2); "
        f"got {subsampling!r}"
    )


@functools.lru_cache(maxsize=64)
def _bias_cached(n: int, pattern: tuple, device: str, dtype) -> torch.Tensor:
    return torch.tensor(pattern, dtype=dtype).repeat((n + 1) // 2)[:n].to(device)


def _bias(n, pattern, device, dtype):
    """libjpeg's alternating rounding bias along an output row of ``n`` samples."""
    return _bias_cached(n, pattern, str(device), dtype)


class _BoxDown(torch.autograd.Function):
    """libjpeg's h2v2 / h2v1 box downsampling with alternating bias; straight-through floor."""

    @staticmethod
    def forward(ctx, c, fv, bias):
        ctx.fv = fv
        if fv == 2:
            s = c[..., 0::2, 0::2] + c[..., 0::2, 1::2]
            s.add_(c[..., 1::2, 0::2]).add_(c[..., 1::2, 1::2])
            return s.add_(bias).mul_(0.25).floor_()
        s = c[..., 0::2] + c[..., 1::2]
        return s.add_(bias).mul_(0.5).floor_()

    @staticmethod
    def backward(ctx, g):
        B, C, h, w = g.shape
        if ctx.fv == 2:
            return F.interpolate(g * 0.25, scale_factor=(2, 2), mode="nearest"), None, None
        return F.interpolate(g * 0.5, scale_factor=(1, 2), mode="nearest"), None, None


def downsample(c: torch.Tensor, subsampling: str) -> torch.Tensor:
    """Box-downsample centered chroma ``(B, C, H, W)`` (H, W multiples of the factors) with
    libjpeg's alternating bias; returns integers, straight-through gradient."""
    fh, fv = SUBSAMPLING[subsampling]
    if fh == 1 and fv == 1:
        return c
    w = c.shape[-1] // 2
    pattern = (1.0, 2.0) if fv == 2 else (0.0, 1.0)
    return _BoxDown.apply(c, fv, _bias(w, pattern, c.device, c.dtype))


class _FancyH2V2(torch.autograd.Function):
    """h2v2_fancy_upsample on an edge-padded plane ``(B, C, h+2, w+2)`` -> ``(B, C, 2h, 2w)``.

    Forward: integer libjpeg arithmetic (exact in float). Backward: the adjoint of the linear
    triangle filter (floors straight-through), written out by hand (a convolution is slower)."""

    @staticmethod
    def forward(ctx, p):
        B, C, hp, wp = p.shape
        h, w = hp - 2, wp - 2
        mid = p[:, :, 1:-1]
        out = p.new_empty(B, C, h, 2, w, 2)
        for dy, far in ((0, p[:, :, :-2]), (1, p[:, :, 2:])):
            col = torch.add(far, mid, alpha=3.0)  # (B, C, h, w+2): 3*near + far
            c = col[..., 1:-1]
            for dx, (nb, bias) in enumerate(((col[..., :-2], 8.0), (col[..., 2:], 7.0))):
                t = torch.add(nb, c, alpha=3.0).add_(bias).mul_(0.0625)
                torch.floor(t, out=out[:, :, :, dy, :, dx])
        return out.reshape(B, C, 2 * h, 2 * w)

    @staticmethod
    def backward(ctx, g):
        B, C, H2, W2 = g.shape
        h, w = H2 // 2, W2 // 2
        g = g.reshape(B, C, h, 2, w, 2)
        gp = g.new_empty(B, C, h + 2, w + 2)
        gp[:, :, 0].zero_()
        gp[:, :, -1].zero_()
        gp[..., 0].zero_()
        gp[..., -1].zero_()
        gcols = []
        for dy in (0, 1):
            gl, gr = g[:, :, :, dy, :, 0], g[:, :, :, dy, :, 1]
            gcol = g.new_empty(B, C, h, w + 2)
            gcol[..., 0].zero_()
            gcol[..., -1].zero_()
            torch.add(gl, gr, out=gcol[..., 1:-1]).mul_(3.0)
            gcol[..., :-2].add_(gl)
            gcol[..., 2:].add_(gr)
            gcols.append(gcol)
        torch.add(gcols[0], gcols[1], out=gp[:, :, 1:-1]).mul_(3.0)
        gp[:, :, :-2].add_(gcols[0])
        gp[:, :, 2:].add_(gcols[1])
        return gp.mul_(0.0625)


class _FancyH2V1(torch.autograd.Function):
    """h2v1_fancy_upsample on a horizontally edge-padded plane ``(B, C, h, w+2)``."""

    @staticmethod
    def forward(ctx, p):
        B, C, h, wp = p.shape
        w = wp - 2
        c = p[..., 1:-1]
        out = p.new_empty(B, C, h, w, 2)
        torch.floor(torch.add(p[..., :-2], c, alpha=3.0).add_(1.0).mul_(0.25), out=out[..., 0])
        torch.floor(torch.add(p[..., 2:], c, alpha=3.0).add_(2.0).mul_(0.25), out=out[..., 1])
        return out.reshape(B, C, h, 2 * w)

    @staticmethod
    def backward(ctx, g):
        B, C, h, W2 = g.shape
        w = W2 // 2
        g = g.reshape(B, C, h, w, 2)
        gl, gr = g[..., 0], g[..., 1]
        gp = g.new_empty(B, C, h, w + 2)
        gp[..., 0].zero_()
        gp[..., -1].zero_()
        torch.add(gl, gr, out=gp[..., 1:-1]).mul_(3.0)
        gp[..., :-2].add_(gl)
        gp[..., 2:].add_(gr)
        return gp.mul_(0.25)


def fancy_upsample(c: torch.Tensor, subsampling: str) -> torch.Tensor:
    """libjpeg's fancy upsampling of centered chroma ``(B, C, h, w)`` cropped to the component's
    true size; returns ``(B, C, fv*h, fh*w)`` integers (straight-through floors)."""
    fh, fv = SUBSAMPLING[subsampling]
    if fh == 1 and fv == 1:
        return c
    if c.shape[-1] <= 2:  # jdsample.c: do_fancy && downsampled_width > 2, else replicate
        return c.repeat_interleave(fv, -2).repeat_interleave(fh, -1)
    if fv == 2:
        return _FancyH2V2.apply(F.pad(c, (1, 1, 1, 1), mode="replicate"))
    return _FancyH2V1.apply(F.pad(c, (1, 1, 0, 0), mode="replicate"))
