"""MAC counting: hand counts, fvcore's unit (1 MAC) against PyTorch's FlopCounterMode (2 FLOPs)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from jpegnn.profiling.macs import count_macs


def _stack() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 4, 1))


# 32x32 input, 3x3 kernel, stride 2, no padding -> 15x15 outputs
CONV1 = 15 * 15 * 8 * (3 * 3 * 3)  # 48,600: one MAC per weight tap per output value
CONV2 = 15 * 15 * 4 * 8  # 7,200: 1x1 conv
X_SHAPE = (1, 3, 32, 32)


def test_hand_counted_conv_stack():
    model = _stack()
    x = torch.rand(X_SHAPE)
    parts = {"conv1": model[0], "relu": model[1], "conv2": model[2]}
    count = count_macs(lambda: model(x), root=model, parts=parts)
    assert count.total == CONV1 + CONV2 == 55_800
    assert count.by_part == {"conv1": CONV1, "relu": 0, "conv2": CONV2}  # biases and ReLU are free


def test_fvcore_macs_are_half_of_flop_counter_flops():
    model = _stack()
    x = torch.rand(X_SHAPE)
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == 2 * count_macs(lambda: model(x), root=model).total


def test_transposed_conv_counts_input_positions():
    deconv = nn.ConvTranspose2d(4, 6, 5, stride=2, padding=2, output_padding=1)
    x = torch.rand(1, 4, 15, 15)
    macs = count_macs(lambda: deconv(x), root=deconv).total
    assert macs == 4 * 6 * 5 * 5 * 15 * 15  # every input value scattered through the 5x5 kernel
    with FlopCounterMode(display=False) as counter:
        deconv(x)
    assert counter.get_total_flops() == 2 * macs


def test_gdn_is_counted_as_a_1x1_convolution():
    from compressai.models import ScaleHyperprior

    model = ScaleHyperprior(N=8, M=12).eval()
    x = torch.rand(1, 3, 64, 64)
    macs = count_macs(lambda: model.g_a(x), root=model).total
    convs = 3 * 8 * 25 * 32 * 32 + 8 * 8 * 25 * 16 * 16 + 8 * 8 * 25 * 8 * 8 + 8 * 12 * 25 * 4 * 4
    gdns = 8 * 8 * (32 * 32 + 16 * 16 + 8 * 8)
    assert macs == convs + gdns == 1_250_816


def test_count_leaves_training_flags_and_requires_grad_alone():
    model = _stack().train()
    model[2].eval()
    model[0].weight.requires_grad_(False)
    count_macs(lambda: model(torch.rand(X_SHAPE)), root=model)
    assert model.training and model[0].training and not model[2].training
    assert not model[0].weight.requires_grad and model[2].weight.requires_grad


def test_modules_outside_root_are_counted_too():
    inner = nn.Conv2d(3, 8, 3, stride=2)
    x = torch.rand(X_SHAPE)
    count = count_macs(lambda: inner(x), root=None, parts={"inner": inner})
    assert count.total == count.by_part["inner"] == CONV1


@pytest.mark.parametrize("size", [(64, 64), (128, 64)])
def test_container_parts_sum_their_members(size):
    a, b = nn.Conv2d(3, 4, 1), nn.Conv2d(4, 2, 1)
    root = nn.Sequential(a, b)
    x = torch.rand(1, 3, size[1], size[0])
    count = count_macs(lambda: root(x), root=root, parts={"both": nn.ModuleList([a, b])})
    assert count.by_part["both"] == count.total == size[0] * size[1] * (3 * 4 + 4 * 2)


class _MatmulFunction(torch.autograd.Function):
    """An autograd Function doing real work (like the JPEG DCT): opaque to fvcore's trace."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.k = w  # a non-tensor attribute on ctx, as jpegnn.jpeg.dct does
        return x @ w

    @staticmethod
    def backward(ctx, g):
        return g @ ctx.k.T, None


class _WithFunction(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.register_buffer("w", torch.rand(8, 8))

    def forward(self, x):
        return _MatmulFunction.apply(self.conv(x), self.w)


def test_work_inside_an_autograd_function_is_counted():
    module = _WithFunction()
    x = torch.rand(1, 3, 8, 8)
    count = count_macs(lambda: module(x), root=module, parts={"conv": module.conv})
    conv = 8 * 8 * 4 * 3
    matmul = 4 * 8 * 8 * 8  # (1x4x8x8) @ (8x8)
    assert count.total == conv + matmul
    assert count.by_part == {"conv": conv}
    assert count.counter.startswith("torch.utils.flop_counter") and count.note


def test_differentiable_jpeg_classifier_is_counted_not_a_crash():
    from jpegnn.cli import build_from_config
    from jpegnn.profiling.complexity import complexity_report

    module = build_from_config("configs/jpeg/classify.yaml")
    report = complexity_report(module, (32, 32))
    assert report["macs"]["forward"] > 0 and "flop_counter" in report["counter"]
