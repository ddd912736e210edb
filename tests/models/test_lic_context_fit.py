"""jpegnn.models.lic.context_fit: the context layers of an add-context mbt2018, fitted to frozen latents.

Tiny networks (N=8, M=12) on smooth synthetic images with some noise, whose latents are spatially
correlated, so a context model has something to learn; a few dozen steps."""

from __future__ import annotations

import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.models.lic import build_lic_model
from jpegnn.models.lic.add_context import add_context, mean_offsets
from jpegnn.models.lic.context_fit import cache_latents, estimated_bpp, fit_context, random_crops


def _smooth_images(n: int, size: int = 96, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    out = []
    for _ in range(n):
        a = torch.rand(3, 4, generator=g)
        img = a[:, 0, None, None] * xx + a[:, 1, None, None] * yy + 0.3 * torch.sin(6 * a[:, 2, None, None] * (xx + yy))
        img = (img - img.amin()) / (img.amax() - img.amin() + 1e-6)
        out.append((img + 0.1 * torch.rand(3, size, size, generator=g)).clamp(0, 1))
    return out


def _context_model() -> torch.nn.Module:
    torch.manual_seed(1)
    mean = build_lic_model("mbt2018-mean", quality=1, N=8, M=12).eval()
    with torch.no_grad():
        for p in mean.parameters():
            p.add_(0.05 * torch.randn_like(p))
        mean.g_a[-1].weight.mul_(30.0)  # latents spread over several integers, as a trained codec's
    mean.update(force=True)
    state = mean.state_dict()
    net = build_lic_model("mbt2018", quality=1, N=8, M=12)
    from jpegnn import zoo

    zoo.load_weights(net, add_context(state, mean_offsets(state, _smooth_images(2))), arg_name="w", source="w")
    return net.eval()


def _latents(net, n=12, crop=64):
    return cache_latents(net, random_crops(_smooth_images(n), crop, per_image=2, seed=3), batch_size=5)


def test_fitting_lowers_the_held_out_rate_and_touches_only_the_context_layers():
    net = _context_model()
    frozen = {k: v.clone() for k, v in net.state_dict().items()
              if not k.startswith(("context_prediction", "entropy_parameters"))}
    latents = _latents(net)
    assert latents.y.shape == (24, 12, 4, 4) and latents.params.shape == (24, 24, 4, 4)
    assert latents.pixels_per_crop == 64 * 64
    report = fit_context(net, latents, steps=60, lr=3e-3, batch_size=4, eval_every=20, seed=0)
    assert report.train_crops + report.held_out_crops == 24 and report.held_out_crops == 3
    assert report.bpp_after < report.bpp_before * 0.99  # the context learned something
    assert [s for s, _ in report.history] == [0, 20, 40, 60]
    # the kept weights are the best held-out score, which is what the model now gives
    held = latents.subset(torch.arange(24)[::10])
    assert estimated_bpp(net, held) == pytest.approx(report.bpp_after, rel=1e-6)
    assert report.bpp_after == pytest.approx(min(b for _, b in report.history))
    state = net.state_dict()
    assert all(torch.equal(state[k], v) for k, v in frozen.items())
    assert not net.training


def test_fitting_is_reproducible_with_a_seed():
    runs = []
    for _ in range(2):
        net = _context_model()
        fit_context(net, _latents(net, n=6), steps=10, batch_size=4, eval_every=5, seed=7)
        runs.append(net.entropy_parameters.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_crops_pad_small_images_and_follow_the_seed():
    small = [torch.rand(3, 40, 70)]
    a = list(random_crops(small, 64, per_image=3, seed=1))
    b = list(random_crops(small, 64, per_image=3, seed=1))
    assert [c.shape for c in a] == [(3, 64, 64)] * 3
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_bad_input_is_a_config_error():
    net = _context_model()
    with pytest.raises(ConfigError, match="multiple of 64"):
        list(random_crops([torch.rand(3, 64, 64)], 100, 1))
    with pytest.raises(ConfigError, match="no images"):
        cache_latents(net, [])
    with pytest.raises(ConfigError, match="share one size"):
        cache_latents(net, [torch.rand(3, 64, 64), torch.rand(3, 128, 64)])
    with pytest.raises(ConfigError, match="has no context_prediction: it needs an mbt2018"):
        cache_latents(build_lic_model("mbt2018-mean", quality=1, N=8, M=12), [torch.rand(3, 64, 64)])
    latents = _latents(net, n=2)
    with pytest.raises(ConfigError, match="lr > 0"):
        fit_context(net, latents, steps=1, lr=0.0)
    with pytest.raises(ConfigError, match="at least 2 crops"):
        fit_context(net, latents.subset(torch.tensor([0])), steps=1)
