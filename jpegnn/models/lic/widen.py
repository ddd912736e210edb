"""Widen a trained hyperprior codec's latent (M channels -> more), keeping what it has learned.

Why: a narrow model trained for hours (the CPU zoo's N=64/M=96) runs short of latent channels at
high rate, and training a wider one from scratch throws those hours away. The widened network starts
as the trained one and the new channels learn from there (Net2Net-style, Chen et al. 2016):

- the analysis transform's last conv gets ``M_new - M`` new output channels, initialized as the
  wider network's own random init times ``new_scale`` (small latents: mostly quantized to 0);
- every layer that *reads* the latent (``g_s.0``, ``h_a.0``) gets zero weights from the new
  channels, so the reconstruction ``x_hat`` and the hyper-latent ``z`` are unchanged;
- the hyper-synthesis ``h_s`` is widened the same way: its new hidden units are read with zero
  weights, and the outputs for the new channels (scales, and means for mbt2018-mean) start at zero
  weight and zero bias, i.e. mean 0 and the entropy model's smallest scale (0.11): a zero latent
  then costs almost nothing in the real bitstream.

So the widened model decodes old bitstreams' content to the same image and codes at nearly the same
rate (the new channels add a few bits per image); it is a starting point for ``jpegnn fit
--model.init_args.M M_NEW --model.init_args.weights FILE``. Supported: ``mbt2018-mean`` and
``bmshj2018-hyperprior`` (their latent width is read by exactly these layers); the N-wide layers
(transforms, GDNs, entropy bottleneck) are copied as they are.
"""

from __future__ import annotations

from typing import Mapping

import torch

from jpegnn.errors import ConfigError
from jpegnn.models.lic.buffers import first_mismatch

__all__ = ["WIDENABLE", "latent_channels", "widen_latent"]

#: architectures whose latent width can be widened here
WIDENABLE = ("mbt2018-mean", "bmshj2018-hyperprior")


def latent_channels(state: Mapping[str, torch.Tensor]) -> tuple[int, int]:
    """``(N, M)`` of a hyperprior state dict, read from the analysis transform's last conv."""
    w = state.get("g_a.6.weight")
    if w is None or w.dim() != 4:
        raise ConfigError("widen: the weights have no 'g_a.6.weight' conv (not a Ballé/Minnen hyperprior codec)")
    return int(w.shape[1]), int(w.shape[0])


def _check(architecture: str, M: int, M_new: int, new_scale: float) -> None:
    if architecture not in WIDENABLE:
        raise ConfigError(f"widen: architecture {architecture!r} is not supported (one of: {', '.join(WIDENABLE)})")
    if not isinstance(M_new, int) or isinstance(M_new, bool) or M_new <= M:
        raise ConfigError(f"widen: M must be an integer above the weights' M={M}, got {M_new!r}")
    if architecture == "mbt2018-mean" and M_new % 2:
        raise ConfigError(f"widen: mbt2018-mean needs an even M (its h_s is M*3//2 wide), got {M_new}")
    if not new_scale >= 0:
        raise ConfigError(f"widen: new_scale must be >= 0, got {new_scale!r}")


def widen_latent(
    state: Mapping[str, torch.Tensor], architecture: str, M_new: int, new_scale: float = 0.1, seed: int = 0,
) -> dict[str, torch.Tensor]:
    """The state dict of the same codec with ``M_new`` latent channels (see the module docstring).

    Args:
        state: a CompressAI state dict of ``architecture`` (N, M read from it).
        architecture: ``mbt2018-mean`` or ``bmshj2018-hyperprior``.
        M_new: the new latent width (> M; even for mbt2018-mean).
        new_scale: factor on the random init of the new analysis output channels (0 gives all-zero
            new latents; they still train, through the rate term).
        seed: seed of that random init, so a widening is reproducible.

    Returns:
        A new state dict (float32 CPU tensors) that loads strictly into
        ``build_lic_model(architecture, N=N, M=M_new)``; entropy-model buffers are copied.

    Raises:
        ConfigError: unsupported architecture, M_new not above M, or a state dict of another shape.
    """
    from jpegnn.models.lic.registry import build_lic_model

    N, M = latent_channels(state)
    _check(architecture, M, M_new, new_scale)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_lic_model(architecture, quality=1, N=N, M=M_new).state_dict()
    small = build_lic_model(architecture, quality=1, N=N, M=M)
    problem = first_mismatch(small, state)
    if problem is not None:
        raise ConfigError(f"widen: the weights do not fit {architecture} at N={N}, M={M} ({problem})")
    small_state = small.state_dict()

    out = {k: v.detach().cpu().clone() for k, v in state.items()}
    new = {k: fresh[k].clone() for k in fresh if tuple(fresh[k].shape) != tuple(small_state[k].shape)}

    def put(key: str, value: torch.Tensor) -> None:
        out[key] = value.to(torch.float32).contiguous()

    # analysis output: old channels kept, new ones small random (bias 0)
    w, b = new["g_a.6.weight"], new["g_a.6.bias"]
    w[M:] *= new_scale
    w[:M], b[:M], b[M:] = state["g_a.6.weight"], state["g_a.6.bias"], 0.0
    put("g_a.6.weight", w)
    put("g_a.6.bias", b)
    # readers of the latent: zero weights from the new channels (deconv weight: in x out x k x k)
    w = new["g_s.0.weight"]
    w[:M], w[M:] = state["g_s.0.weight"], 0.0
    put("g_s.0.weight", w)
    w = new["h_a.0.weight"]  # conv: out x in
    w[:, :M], w[:, M:] = state["h_a.0.weight"], 0.0
    put("h_a.0.weight", w)

    if architecture == "bmshj2018-hyperprior":
        # h_s.4: conv(N, M) then ReLU = the scales; new rows 0 -> scale at the lower bound
        w, b = new["h_s.4.weight"], new["h_s.4.bias"]
        w[:M], b[:M] = state["h_s.4.weight"], state["h_s.4.bias"]
        w[M:], b[M:] = 0.0, 0.0
        put("h_s.4.weight", w)
        put("h_s.4.bias", b)
        return out

    # mbt2018-mean: h_s = deconv(N, M), LReLU, deconv(M, 3M/2), LReLU, conv(3M/2, 2M) -> (scales, means)
    H, H_new = M * 3 // 2, M_new * 3 // 2
    w, b = new["h_s.0.weight"], new["h_s.0.bias"]  # deconv N -> M: new outputs keep their random init
    w[:, :M], b[:M] = state["h_s.0.weight"], state["h_s.0.bias"]
    put("h_s.0.weight", w)
    put("h_s.0.bias", b)
    w, b = new["h_s.2.weight"], new["h_s.2.bias"]  # deconv M -> 3M/2
    w[:M, :H], b[:H] = state["h_s.2.weight"], state["h_s.2.bias"]
    w[M:, :H] = 0.0  # new hidden inputs do not reach the old hidden units
    put("h_s.2.weight", w)
    put("h_s.2.bias", b)
    w = torch.zeros(2 * M_new, H_new, *state["h_s.4.weight"].shape[2:])  # conv 3M/2 -> 2M
    b = torch.zeros(2 * M_new)
    old_w, old_b = state["h_s.4.weight"], state["h_s.4.bias"]
    w[:M, :H], b[:M] = old_w[:M], old_b[:M]  # scales of the old channels
    w[M_new:M_new + M, :H], b[M_new:M_new + M] = old_w[M:], old_b[M:]  # their means
    put("h_s.4.weight", w)
    put("h_s.4.bias", b)
    return out
