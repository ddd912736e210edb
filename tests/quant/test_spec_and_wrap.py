"""Format specs, quantize_model hooks on a tiny nn.Sequential, and QuantizationCallback in a tiny
Lightning fit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from jpegnn.errors import ConfigError
from jpegnn.quant import QuantFormat, parse_format, quantize_fixed, quantize_float, quantize_model


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("float:e5m2:nearest", QuantFormat("float", (5, 2), "nearest")),
        ("FLOAT:E2M1:Stochastic", QuantFormat("float", (2, 1), "stochastic")),
        ("float:e2m1:stochastic:saturate", QuantFormat("float", (2, 1), "stochastic", True)),
        ("float:e4m3", QuantFormat("float", (4, 3), "nearest")),
        ("fixed:8.4:stochastic", QuantFormat("fixed", (8, 4), "stochastic")),
        ("fixed:16.8", QuantFormat("fixed", (16, 8), "nearest")),
        ("fp16", QuantFormat("float", (5, 10), "nearest")),
        ("bf16:stochastic", QuantFormat("float", (8, 7), "stochastic")),
        ("none", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_format(spec, expected):
    assert parse_format(spec) == expected
    if expected is not None:
        assert parse_format(str(expected)) == expected


@pytest.mark.parametrize(
    "spec",
    ["float", "float:5m2", "float:e5m2:up", "fixed:8", "fixed:8.4:saturate", "int8", "float:e1m3", "fixed:0.0", 8],
)
def test_parse_format_errors_name_the_argument(spec):
    with pytest.raises(ConfigError, match="activation"):
        parse_format(spec, "activation")


def _tiny_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))


def test_weight_quantization_uses_quantized_copies_and_keeps_master_weights():
    net = _tiny_net()
    x = torch.randn(2, 2, 4, 4)
    conv, lin = net[0], net[3]
    masters = {n: p.detach().clone() for n, p in net.named_parameters()}
    params_before = [id(p) for p in net.parameters()]
    fmt = "fixed:4.2"
    expected = nn.functional.conv2d(x, quantize_fixed(conv.weight, 4, 2), quantize_fixed(conv.bias, 4, 2), padding=1)
    expected = nn.functional.linear(expected.relu().flatten(1), quantize_fixed(lin.weight, 4, 2), quantize_fixed(lin.bias, 4, 2))
    with quantize_model(net, weight=fmt) as handle:
        assert set(handle.modules) == {"0", "3"}
        out = net(x)
        assert torch.equal(out, expected)
        assert not torch.equal(out, _tiny_net()(x))  # the quantized forward really differs
        # master weights untouched, still the same nn.Parameter objects
        assert [id(p) for p in net.parameters()] == params_before
        assert all(isinstance(p, nn.Parameter) for p in net.parameters())
        for n, p in net.named_parameters():
            assert torch.equal(p, masters[n])
        # straight-through: master weights get the gradient computed with the quantized weights
        out.sum().backward()
        assert conv.weight.grad is not None and lin.bias.grad is not None
        assert torch.equal(lin.bias.grad, torch.full((5,), 2.0))
    assert torch.equal(net(x), _tiny_net()(x))  # hooks removed


def test_activation_and_gradient_quantization():
    net = _tiny_net()
    x = torch.randn(2, 2, 4, 4, requires_grad=True)
    with quantize_model(net, activation="float:e2m1", layer_types=["Linear"]):
        out = net(x)
    ref = net(x)
    assert torch.equal(out, quantize_float(ref, 2, 1))

    # gradient: the error signal entering the Linear layer is quantized
    # (dL/dout = w, so the Linear weight's gradient is quantize(w)^T @ its input)
    w = torch.randn(2, 5)
    with quantize_model(net, gradient="fixed:4.1", layer_types=["Linear"]):
        (net(x) * w).sum().backward()
    features = net[:3](x).detach()
    assert torch.allclose(net[3].weight.grad, quantize_fixed(w, 4, 1).T @ features)
    assert not torch.allclose(net[3].weight.grad, w.T @ features)


def test_layer_type_selection_by_base_class_and_errors():
    net = _tiny_net()
    with quantize_model(net, weight="fp16", layer_types=["_ConvNd"]) as handle:
        assert list(handle.modules) == ["0"]
    with quantize_model(net, weight="fp16", layer_types=[nn.Linear]) as handle:
        assert list(handle.modules) == ["3"]
    with pytest.raises(ConfigError, match="layer_types.*Conv3d.*module types are"):
        quantize_model(net, weight="fp16", layer_types=["Conv3d"])
    with pytest.raises(ConfigError, match="layer_types"):
        quantize_model(net, weight="fp16", layer_types=[])
    with pytest.raises(ConfigError, match="gradient"):
        quantize_model(net, gradient="float:e9")


def test_forward_that_raises_leaves_parameters_restorable():
    net = _tiny_net()
    handle = quantize_model(net, weight="fixed:4.2")
    with pytest.raises(RuntimeError):
        net(torch.randn(1, 7, 4, 4))  # wrong channel count
    handle.remove()
    assert all(isinstance(p, nn.Parameter) for p in net[0]._parameters.values())
