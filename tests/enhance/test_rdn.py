"""RDN shapes in both modes, residual switches, and the MAC formula against fvcore."""

from __future__ import annotations

import pytest
import torch
from fvcore.nn import FlopCountAnalysis

from jpegnn.errors import ConfigError
from jpegnn.models.enhance import RDN, rdn_macs, rdn_macs_table
from jpegnn.models.enhance.rdn import rdn_block_macs_per_pixel


def _fvcore_macs(net: torch.nn.Module, x: torch.Tensor) -> int:
    analysis = FlopCountAnalysis(net, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def test_ctu_mode_132_to_128():
    net = RDN("ctu", features=8, blocks=2, layers=3, growth=4)
    out = net(torch.rand(2, 1, 132, 132))
    assert out.shape == (2, 1, 128, 128)
    assert net.output_size(132, 132) == (128, 128)


def test_rgb_mode_keeps_any_size():
    net = RDN("rgb", features=8, blocks=2, layers=3, growth=4)
    assert net(torch.rand(1, 3, 37, 53)).shape == (1, 3, 37, 53)


def test_output_is_a_residual_over_the_decoded_centre():
    net = RDN("ctu", features=8, blocks=1, layers=2, growth=4)
    torch.nn.init.zeros_(net.tail.weight)
    x = torch.rand(1, 1, 20, 24)
    assert torch.equal(net(x), x[..., 2:-2, 2:-2])


def test_default_is_the_notebooks_first_network():
    net = RDN("ctu")
    assert (len(net.blocks), len(net.blocks[0].layers), net.blocks[0].layers[0].out_channels) == (3, 6, 16)
    assert net.head[0].out_channels == 32 and net.head[0].padding == (0, 0)


@pytest.mark.parametrize("local,global_", [(False, True), (True, False)])
def test_residual_switches_change_the_function(local, global_):
    torch.manual_seed(0)
    ref = RDN("rgb", features=8, blocks=2, layers=2, growth=4)
    other = RDN("rgb", features=8, blocks=2, layers=2, growth=4, local_residual=local, global_residual=global_)
    other.load_state_dict(ref.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(ref(x), other(x))


@pytest.mark.parametrize("mode,size", [("ctu", 20), ("rgb", 16)])
@pytest.mark.parametrize("features,layers,growth,blocks,fusion", [
    (8, 2, 4, 1, True), (12, 3, 6, 2, True), (8, 4, 8, 3, False), (16, 1, 4, 2, True),
])
def test_mac_formula_matches_fvcore(mode, size, features, layers, growth, blocks, fusion):
    net = RDN(mode, features=features, blocks=blocks, layers=layers, growth=growth, global_fusion=fusion)
    x = torch.rand(1, net.channels, size, size)
    h, w = net.output_size(size, size)
    assert _fvcore_macs(net, x) == rdn_macs(h, w, features, blocks, layers, growth, mode, fusion)


def test_block_cost_is_quadratic_in_depth_and_growth():
    # the notebook's count: sum over layers of (F + i g) g (x k^2) plus the 1x1 fusion
    F, g, D = 32, 16, 6
    direct = sum((F + i * g) * g * 9 for i in range(D)) + (F + D * g) * F
    assert rdn_block_macs_per_pixel(F, g, D) == direct
    d2 = [rdn_block_macs_per_pixel(F, g, d) for d in (2, 4, 6, 8)]
    assert len({b - a for a, b in zip(d2, d2[1:])}) == 3  # growing differences: super-linear in D


def test_macs_table_rows():
    rows = rdn_macs_table(features=(16,), layers=(2, 4), growth=(8,), blocks=1, height=32, width=32)
    assert [r["layers"] for r in rows] == [2, 4] and rows[1]["macs"] > rows[0]["macs"] > 0


def test_bad_arguments_are_clear():
    with pytest.raises(ConfigError, match="'mode'"):
        RDN("yuv")
    with pytest.raises(ConfigError, match="'growth'"):
        RDN("rgb", growth=0)
    with pytest.raises(ConfigError, match="1 x H x W"):
        RDN("ctu")(torch.rand(1, 3, 40, 40))
