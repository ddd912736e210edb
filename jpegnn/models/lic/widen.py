"""Widen a trained hyperprior codec (N and/or M channels -> more), keeping what it has learned.

Why: a narrow model trained for hours (the CPU zoo's N=64/M=96) runs short of capacity at high rate,
and training a wider one from scratch throws those hours away. The widened network starts as the
trained one and the new channels learn from there (Net2Net-style, Chen et al. 2016). Every layer is
embedded in the wider layer of a fresh network (seeded init), with one rule that keeps the old
network's function: **an old unit never reads a new one** (conv/deconv weights from new input
channels to old output channels are zero, and so are the GDN couplings ``gamma[old, new]``). So
every old activation, the reconstruction ``x_hat`` included, is what it was. The new units get:

- hidden channels (N-wide layers of the transforms and the hyper-transforms, the 3M/2 layer of
  ``h_s``): the fresh network's own init, GDNs included (beta 1, gamma 0.1 on the diagonal);
- new latent channels (``g_a.6``) and new hyper-latent channels (``h_a.4``): the fresh init times
  ``new_scale``, bias 0 (small values, mostly quantized to 0);
- their entropy parameters: the scales (and means) of new latent channels start at zero weight and
  zero bias in ``h_s.4``, i.e. mean 0 at the entropy model's smallest scale (0.11); the entropy
  bottleneck's new channels copy the trained channel that codes a zero most cheaply (often an
  unused one). A zero latent then costs almost nothing in the real bitstream.

So the widened model decodes to the same image at nearly the same rate (the new channels add a few
bits per image); it is a starting point for ``jpegnn fit --model.init_args.N N_NEW
--model.init_args.M M_NEW --model.init_args.weights FILE``. Supported: ``mbt2018-mean`` and
``bmshj2018-hyperprior``, whose layer layout is spelled out in :data:`_LAYERS` below.
"""

from __future__ import annotations

from typing import Mapping, Optional

import torch

from jpegnn.errors import ConfigError
from jpegnn.models.lic.buffers import first_mismatch, match_cdf_buffers

__all__ = ["WIDENABLE", "latent_channels", "widen"]

#: architectures whose widths can be widened here
WIDENABLE = ("mbt2018-mean", "bmshj2018-hyperprior")

# Layer -> (kind, input width, output width). Widths: "img" (3 colour channels), "N", "M",
# "H" (mbt2018-mean's 3M/2 hidden layer of h_s), "SM" (its 2M output: M scales, then M means).
_COMMON = {
    "g_a.0": ("conv", "img", "N"), "g_a.1": ("gdn", "N", "N"), "g_a.2": ("conv", "N", "N"),
    "g_a.3": ("gdn", "N", "N"), "g_a.4": ("conv", "N", "N"), "g_a.5": ("gdn", "N", "N"),
    "g_a.6": ("conv", "N", "M"),
    "g_s.0": ("deconv", "M", "N"), "g_s.1": ("gdn", "N", "N"), "g_s.2": ("deconv", "N", "N"),
    "g_s.3": ("gdn", "N", "N"), "g_s.4": ("deconv", "N", "N"), "g_s.5": ("gdn", "N", "N"),
    "g_s.6": ("deconv", "N", "img"),
    "h_a.0": ("conv", "M", "N"), "h_a.2": ("conv", "N", "N"), "h_a.4": ("conv", "N", "N"),
}
_LAYERS = {
    "mbt2018-mean": {**_COMMON, "h_s.0": ("deconv", "N", "M"), "h_s.2": ("deconv", "M", "H"),
                     "h_s.4": ("conv", "H", "SM")},
    "bmshj2018-hyperprior": {**_COMMON, "h_s.0": ("deconv", "N", "N"), "h_s.2": ("deconv", "N", "N"),
                             "h_s.4": ("conv", "N", "M")},
}
#: layers whose new output channels are new (hyper-)latents: init times new_scale, bias 0
_NEW_LATENTS = ("g_a.6", "h_a.4")
#: the layer whose new outputs are entropy parameters of new latents: all zero
_NEW_ENTROPY_PARAMS = "h_s.4"
_EB = "entropy_bottleneck"
_EB_PARAMS = ("matrices.", "biases.", "factors.", "quantiles")
_EB_TABLES = ("_quantized_cdf", "_offset", "_cdf_length")


def latent_channels(state: Mapping[str, torch.Tensor]) -> tuple[int, int]:
    """``(N, M)`` of a hyperprior state dict, read from the analysis transform's last conv."""
    w = state.get("g_a.6.weight")
    if w is None or w.dim() != 4:
        raise ConfigError("widen: the weights have no 'g_a.6.weight' conv (not a Ballé/Minnen hyperprior codec)")
    return int(w.shape[1]), int(w.shape[0])


def _check_width(name: str, old: int, new: int) -> None:
    if not isinstance(new, int) or isinstance(new, bool) or new < old:
        raise ConfigError(f"widen: {name} must be an integer at least the weights' {name}={old}, got {new!r}")


def _check(architecture: str, N: int, M: int, N_new: int, M_new: int, new_scale: float) -> None:
    if architecture not in WIDENABLE:
        raise ConfigError(f"widen: architecture {architecture!r} is not supported (one of: {', '.join(WIDENABLE)})")
    _check_width("N", N, N_new)
    _check_width("M", M, M_new)
    if (N_new, M_new) == (N, M):
        raise ConfigError(f"widen: nothing to widen: N={N_new} and M={M_new} are the weights' own widths")
    if architecture == "mbt2018-mean" and M_new % 2:
        raise ConfigError(f"widen: mbt2018-mean needs an even M (its h_s is M*3//2 wide), got {M_new}")
    if not new_scale >= 0:
        raise ConfigError(f"widen: new_scale must be >= 0, got {new_scale!r}")


def _old_positions(width: str, old: dict[str, int], new: dict[str, int]) -> torch.Tensor:
    """Where the old channels of a ``width`` dimension sit in the widened one."""
    if width == "img":
        return torch.arange(3)
    if width == "SM":  # scales of channels 0..M-1, then their means from M_new on
        return torch.cat([torch.arange(old["M"]), new["M"] + torch.arange(old["M"])])
    return torch.arange(old[width])


def _widths(N: int, M: int) -> dict[str, int]:
    return {"N": N, "M": M, "H": M * 3 // 2, "SM": 2 * M, "img": 3}


def _complement(idx: torch.Tensor, size: int) -> torch.Tensor:
    keep = torch.ones(size, dtype=torch.bool)
    keep[idx] = False
    return keep.nonzero().flatten()


def _widen_conv(name, kind, w_in, w_out, state, fresh, old, new, new_scale) -> dict[str, torch.Tensor]:
    o_in, o_out = _old_positions(w_in, old, new), _old_positions(w_out, old, new)
    n_in, n_out = _complement(o_in, new[w_in]), _complement(o_out, new[w_out])
    w, b = fresh[f"{name}.weight"].clone(), fresh[f"{name}.bias"].clone()
    if kind == "deconv":  # ConvTranspose2d weights are in x out x k x k: work on out x in
        w = w.transpose(0, 1)
    old_w = state[f"{name}.weight"].to(torch.float32)
    old_w = old_w.transpose(0, 1) if kind == "deconv" else old_w
    w[o_out.unsqueeze(1), o_in.unsqueeze(0)] = old_w
    w[o_out.unsqueeze(1), n_in.unsqueeze(0)] = 0.0  # an old unit never reads a new one
    b[o_out] = state[f"{name}.bias"].to(torch.float32)
    if name in _NEW_LATENTS:
        w[n_out] *= new_scale
        b[n_out] = 0.0
    elif name == _NEW_ENTROPY_PARAMS:
        w[n_out], b[n_out] = 0.0, 0.0
    if kind == "deconv":
        w = w.transpose(0, 1)
    return {f"{name}.weight": w.contiguous(), f"{name}.bias": b}


def _widen_gdn(name, width, state, fresh, old, new) -> dict[str, torch.Tensor]:
    o = _old_positions(width, old, new)
    beta, gamma = fresh[f"{name}.beta"].clone(), fresh[f"{name}.gamma"].clone()
    beta[o] = state[f"{name}.beta"].to(torch.float32)
    gamma[o.unsqueeze(1), o.unsqueeze(0)] = state[f"{name}.gamma"].to(torch.float32)
    # gamma[old, new] and gamma[new, old] keep the fresh init's off-diagonal value: the stored form
    # of a zero coupling (sqrt of the reparametrization's pedestal), so old units ignore new ones
    return {f"{name}.beta": beta, f"{name}.gamma": gamma}


def _cheapest_zero_channel(small: torch.nn.Module, N: int) -> int:
    """The entropy-bottleneck channel that codes a zero hyper-latent in the fewest bits."""
    eb = getattr(small, _EB)
    with torch.no_grad():
        _, likelihood = eb(torch.zeros(1, N, 1, 1), training=False)
    return int(likelihood.flatten().argmax())


def _widen_entropy_bottleneck(state, N: int, N_new: int, source: int) -> dict[str, torch.Tensor]:
    """The entropy bottleneck's per-channel parameters (and built tables, when there are some) for
    ``N_new`` channels: the old ones, then copies of channel ``source``."""
    out = {}
    for key, value in state.items():
        if not key.startswith(f"{_EB}."):
            continue
        per_channel = key.startswith(tuple(f"{_EB}.{p}" for p in _EB_PARAMS))
        built_table = key.endswith(_EB_TABLES) and value.dim() >= 1 and value.shape[0] == N
        if per_channel or built_table:
            extra = value[source:source + 1].expand(N_new - N, *value.shape[1:])
            out[key] = torch.cat([value, extra]).contiguous()
    return out


def widen(
    state: Mapping[str, torch.Tensor], architecture: str, N: Optional[int] = None, M: Optional[int] = None,
    new_scale: float = 0.1, seed: int = 0,
) -> dict[str, torch.Tensor]:
    """The state dict of the same codec with ``N`` and/or ``M`` channels (see the module docstring).

    Args:
        state: a CompressAI state dict of ``architecture`` (its N, M read from it).
        architecture: ``mbt2018-mean`` or ``bmshj2018-hyperprior``.
        N: the new transform / hyper-latent width (default: the weights' N).
        M: the new latent width (default: the weights' M; even for mbt2018-mean).
        new_scale: factor on the random init of the new latent and hyper-latent channels (0 gives
            all-zero new latents; they still train, through the rate term).
        seed: seed of the fresh network whose init the new units take, so a widening is reproducible.

    Returns:
        A new state dict (float32 CPU tensors) that loads strictly into
        ``build_lic_model(architecture, N=N, M=M)``; entropy-model tables are copied (the entropy
        bottleneck's new channels from the copied channel's rows).

    Raises:
        ConfigError: unsupported architecture, a width below the weights', nothing to widen, or a
            state dict of another shape.
    """
    from jpegnn.models.lic.registry import build_lic_model

    N_old, M_old = latent_channels(state)
    N_new, M_new = N_old if N is None else N, M_old if M is None else M
    _check(architecture, N_old, M_old, N_new, M_new, new_scale)
    small = build_lic_model(architecture, quality=1, N=N_old, M=M_old)
    problem = first_mismatch(small, state)
    if problem is not None:
        raise ConfigError(f"widen: the weights do not fit {architecture} at N={N_old}, M={M_old} ({problem})")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_lic_model(architecture, quality=1, N=N_new, M=M_new).state_dict()

    out = {k: v.detach().cpu().clone() for k, v in state.items()}
    old, new = _widths(N_old, M_old), _widths(N_new, M_new)
    for name, (kind, w_in, w_out) in _LAYERS[architecture].items():
        if kind == "gdn":
            out.update(_widen_gdn(name, w_in, state, fresh, old, new))
        else:
            out.update(_widen_conv(name, kind, w_in, w_out, state, fresh, old, new, new_scale))
    if N_new > N_old:
        match_cdf_buffers(small, state)
        small.load_state_dict(state)
        source = _cheapest_zero_channel(small, N_old)
        out.update(_widen_entropy_bottleneck(state, N_old, N_new, source))
    return {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in out.items()}
