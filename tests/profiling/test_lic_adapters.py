"""CompressAI adapters: parts, per-side network workloads and real coding for every architecture."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from jpegnn.models.lic import build_lic_model
from jpegnn.profiling.complexity import complexity_report
from jpegnn.profiling.lic import lic_coding_functions, lic_functions, lic_parts
from jpegnn.profiling.workloads import resolve_coding, resolve_functions, resolve_parts

ARCHS = ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "checkerboard", "elic"]
EXPECTED_PARTS = {
    "bmshj2018-factorized": ["g_a", "g_s", "entropy_bottleneck"],
    "bmshj2018-hyperprior": ["g_a", "h_a", "h_s", "g_s", "entropy_bottleneck"],
    "mbt2018-mean": ["g_a", "h_a", "h_s", "g_s", "entropy_bottleneck"],
    "mbt2018": ["g_a", "h_a", "h_s", "context_prediction", "entropy_parameters", "g_s", "entropy_bottleneck"],
    "checkerboard": ["g_a", "h_a", "h_s", "context_prediction", "entropy_parameters", "g_s", "entropy_bottleneck"],
    "elic": ["g_a", "h_a", "h_s", "context_prediction", "channel_context", "entropy_parameters", "g_s",
             "entropy_bottleneck"],
}
ENCODER_ONLY = {"g_a", "h_a"}
DECODER_ONLY = {"g_s"}


def _tiny(arch: str) -> nn.Module:
    torch.manual_seed(0)
    return build_lic_model(arch, 1, N=8, M=40 if arch == "elic" else 12).eval()


@pytest.mark.parametrize("arch", ARCHS)
def test_parts_cover_every_parameter(arch):
    model = _tiny(arch)
    parts = lic_parts(model)
    assert list(parts) == EXPECTED_PARTS[arch]
    in_parts = {id(p) for m in parts.values() for p in m.parameters()}
    assert in_parts == {id(p) for p in model.parameters()}


@pytest.mark.parametrize("arch", ARCHS)
def test_sides_include_what_they_need(arch):
    model = _tiny(arch)
    report = complexity_report(model, (64, 64))
    assert set(report["macs"]) == {"encoder", "decoder"}
    assert report["other_params"] == 0
    parts = report["parts"]
    for side in ("encoder", "decoder"):
        assert sum(p["macs"][side] for p in parts.values()) == report["macs"][side]
        assert report["kmacs_per_pixel"][side] == pytest.approx(report["macs"][side] / (64 * 64) / 1e3)
    for name, info in parts.items():
        if name in ENCODER_ONLY:
            assert info["macs"]["encoder"] > 0 and info["macs"]["decoder"] == 0
        elif name in DECODER_ONLY:
            assert info["macs"]["encoder"] == 0 and info["macs"]["decoder"] > 0
        elif name == "entropy_bottleneck":  # a table lookup when coding
            assert info["macs"] == {"encoder": 0, "decoder": 0}
        else:  # hyper decoder and context models: both sides derive y's entropy parameters
            assert info["macs"]["encoder"] == info["macs"]["decoder"] > 0


def test_checkerboard_counts_like_mbt2018_once_per_latent():
    """Both count the 5x5 context and the entropy parameters once over the whole latent."""
    serial = complexity_report(_tiny("mbt2018"), (64, 64))
    checker = complexity_report(_tiny("checkerboard"), (64, 64))
    assert serial["macs"] == checker["macs"]
    # the context convolution on a 4x4 latent with M=12 -> 2M channels, 5x5 taps (masked ones included)
    assert serial["parts"]["context_prediction"]["macs"]["decoder"] == 12 * 24 * 25 * 4 * 4


def test_hyperprior_preset_has_compressai_parameter_count():
    model = build_lic_model("bmshj2018-hyperprior", quality=3)  # N=128, M=192
    report = complexity_report(model, (64, 64))
    assert report["params"] == 5_075_843
    assert round(report["params"] / 1e6, 2) == 5.08
    assert report["params_mb_fp32"] == pytest.approx(5_075_843 * 4 / 1e6)


def test_inputs_are_padded_like_the_coder():
    model = _tiny("bmshj2018-hyperprior")
    odd = complexity_report(model, (50, 37))
    padded = complexity_report(model, (64, 64))
    assert odd["macs"] == padded["macs"]
    assert odd["kmacs_per_pixel"]["encoder"] == pytest.approx(odd["macs"]["encoder"] / (50 * 37) / 1e3)


@pytest.mark.parametrize("arch", ["bmshj2018-hyperprior", "checkerboard"])
def test_real_coding_functions_do_not_touch_the_model(arch):
    model = _tiny(arch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(1, 3, 37, 53)
    coding = lic_coding_functions(model, x)
    x_hat = coding["decode"]()
    assert x_hat.shape == x.shape
    assert coding["encode"]().num_bytes > 0
    after = model.state_dict()
    assert set(after) == set(before) and all(torch.equal(before[k], after[k]) for k in before)


def test_network_decoder_output_matches_the_synthesis_size():
    model = _tiny("mbt2018-mean")
    with torch.no_grad():
        _, x_hat = lic_functions(model, torch.rand(1, 3, 64, 64))["decoder"]()
    assert x_hat.shape == (1, 3, 64, 64)


class _Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


class _WithHooks(_Plain):
    def complexity_parts(self):
        return {"conv": self.conv}

    def complexity_functions(self, x):
        return {"encoder": lambda: self.conv(x), "decoder": lambda: self.conv(x[..., ::2, ::2])}


def test_any_module_falls_back_to_forward():
    module = _Plain()
    x = torch.rand(1, 3, 8, 8)
    assert resolve_parts(module) == {}
    assert list(resolve_functions(module, x)) == ["forward"]
    coding, description = resolve_coding(module, x)
    assert list(coding) == ["forward"] and "network only" in description
    report = complexity_report(module, (8, 8))
    assert report["macs"] == {"forward": 8 * 8 * 4 * 3 * 9}
    assert report["gmacs_forward"] == pytest.approx(8 * 8 * 4 * 27 / 1e9)


def test_module_hooks_take_precedence():
    module = _WithHooks()
    report = complexity_report(module, (8, 8))
    assert report["macs"] == {"encoder": 8 * 8 * 4 * 27, "decoder": 4 * 4 * 4 * 27}
    assert report["parts"]["conv"]["macs"] == report["macs"]
    coding, _ = resolve_coding(module, torch.rand(1, 3, 8, 8))
    assert set(coding) == {"encode", "decode"}
