"""jpegnn.models.lic.add_context: an mbt2018-mean model becomes an mbt2018 that codes the same.

Tiny networks (N=8, M=12) with perturbed weights, so no layer is at its init."""

from __future__ import annotations

import pytest
import torch

from jpegnn.errors import ConfigError
from jpegnn.models.lic import build_lic_model
from jpegnn.models.lic.add_context import add_context, mean_offsets


def _trained_like() -> torch.nn.Module:
    torch.manual_seed(1)
    model = build_lic_model("mbt2018-mean", quality=1, N=8, M=12).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        model.h_s[4].bias[12:].sub_(2.0)  # negative means, so the offsets matter
    model.update(force=True)
    return model


def _context_model(mean_model, images):
    state = mean_model.state_dict()
    net = build_lic_model("mbt2018", quality=1, N=8, M=12).eval()
    from jpegnn import zoo

    zoo.load_weights(net, add_context(state, mean_offsets(state, images)), arg_name="w", source="w")
    return net


def test_the_context_model_codes_the_same_bytes_and_image():
    mean_model = _trained_like()
    torch.manual_seed(2)
    images = [torch.rand(3, 64, 64) for _ in range(2)]
    net = _context_model(mean_model, images)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a = mean_model.compress(x)
        b = net.compress(x)
        # the same symbols at the same scales; mbt2018 codes them position by position, the mean
        # model channel-major, so the rANS streams differ in order but not (beyond a byte) in size
        assert a["strings"][1] == b["strings"][1]
        assert abs(len(a["strings"][0][0]) - len(b["strings"][0][0])) <= 1
        xa = mean_model.decompress(a["strings"], a["shape"])["x_hat"]
        xb = net.decompress(b["strings"], b["shape"])["x_hat"]
        # the estimated rate (eval forward) is the mean model's too
        la, lb = mean_model(x)["likelihoods"]["y"], net(x)["likelihoods"]["y"]
    torch.testing.assert_close(xa, xb, rtol=0, atol=1e-5)
    torch.testing.assert_close(la, lb, rtol=1e-4, atol=1e-6)


def test_the_context_trains_from_the_first_step():
    net = _context_model(_trained_like(), [torch.rand(3, 64, 64)]).train()
    out = net(torch.rand(1, 3, 64, 64))
    bits = sum(-lk.log2().sum() for lk in out["likelihoods"].values())
    bits.backward()
    ep0 = net.entropy_parameters[0].weight.grad
    assert ep0[:24, 24:].abs().sum() > 0  # the pass-through units' context columns get gradient


def test_offsets_keep_the_calibration_means_positive():
    mean_model = _trained_like()
    x = torch.rand(3, 64, 64)
    off = mean_offsets(mean_model.state_dict(), [x])
    assert off.shape == (12,) and bool((off >= 1).all())
    with torch.no_grad():
        z_hat, _ = mean_model.entropy_bottleneck(mean_model.h_a(mean_model.g_a(x[None])))
        means = mean_model.h_s(z_hat).chunk(2, 1)[1]
    assert bool((means + off[None, :, None, None] > 0).all())


def test_bad_input_is_a_config_error():
    hyper = build_lic_model("bmshj2018-hyperprior", quality=1, N=8, M=12).state_dict()
    with pytest.raises(ConfigError, match="not an mbt2018-mean state dict"):
        add_context(hyper, torch.ones(12))
    state = _trained_like().state_dict()
    with pytest.raises(ConfigError, match="offsets must be 12 finite values"):
        add_context(state, torch.ones(11))
    with pytest.raises(ConfigError, match="no calibration images"):
        mean_offsets(state, [])


def test_release_file_stores_the_context_mask_as_one_kernel(tmp_path):
    import io

    from compressai.models import JointAutoregressiveHierarchicalPriors

    from jpegnn.models.lic.export import state_dict_bytes

    net = build_lic_model("mbt2018", quality=1, N=8, M=12)
    full = io.BytesIO()
    torch.save({k: v.contiguous() for k, v in net.state_dict().items()}, full)
    data = state_dict_bytes(net)
    mask_bytes = net.context_prediction.mask.numel() * 4
    assert len(full.getvalue()) - len(data) > 0.9 * mask_bytes
    state = torch.load(io.BytesIO(data), weights_only=True)
    assert torch.equal(state["context_prediction.mask"], net.context_prediction.mask)
    # CompressAI's own loader (eval_model's from_state_dict) takes it
    rebuilt = JointAutoregressiveHierarchicalPriors.from_state_dict(state)
    assert torch.equal(rebuilt.context_prediction.mask, net.context_prediction.mask)
