"""Semantic-segmentation networks that read JPEG-decoded images: torchvision's and a tiny CPU net.

Every network built by :func:`build_segmenter` takes ``B x 3 x H x W`` RGB in ``[0, 1]`` and
returns ``B x num_classes x H' x W'`` logits, where ``(H', W')`` is the ``size`` argument of
``forward`` (default: the input size) — evaluation passes the full-resolution mask's size, the
standard protocol when the input was resized. ImageNet normalization is built in.

Architectures (:data:`SEGMENTER_ARCHS`): torchvision's ``deeplabv3_mobilenet_v3_large``,
``lraspp_mobilenet_v3_large``, ``fcn_resnet50`` and ``deeplabv3_resnet50``, always built with
``weights=None, weights_backbone=None`` and without the auxiliary head (never a hub download);
and ``tiny`` (three stride-2 conv stages of 16-32-64 channels and a 1x1 classifier, about 25 k
parameters) for tests and CPU smoke runs. Local weights load as in
:func:`jpegnn.models.classifiers.load_local_weights` (final classifier layers of another class
count are re-initialised; ``aux_classifier.*`` entries are dropped).
"""

from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from jpegnn.errors import ConfigError
from jpegnn.models.classifiers import Normalize, load_local_weights

__all__ = ["SEGMENTER_ARCHS", "Segmenter", "build_segmenter"]

SEGMENTER_ARCHS: tuple[str, ...] = (
    "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large",
    "fcn_resnet50",
    "deeplabv3_resnet50",
    "tiny",
)


class TinySegNet(nn.Module):
    """Three stride-2 conv+BN+ReLU stages and a 1x1 classifier at 1/8 resolution."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        layers = []
        cin = 3
        for cout in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.backbone = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(cin, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.backbone(x))


class Segmenter(nn.Module):
    """``Normalize`` + network; logits are bilinearly resized to ``size`` (default: the input's)."""

    def __init__(self, arch: str, net: nn.Module) -> None:
        super().__init__()
        self.arch = arch
        self.normalize = Normalize()
        self.net = net

    def forward(self, x: Tensor, size: Optional[tuple[int, int]] = None) -> Tensor:
        out = self.net(self.normalize(x))
        if isinstance(out, dict):  # torchvision segmentation models return {"out": ..., "aux": ...}
            out = out["out"]
        size = tuple(size) if size is not None else tuple(x.shape[-2:])
        if tuple(out.shape[-2:]) != size:
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        return out


def build_segmenter(arch: str, num_classes: int, weights_path: Optional[str] = None) -> Segmenter:
    """Build a segmenter (see the module docstring).

    Raises:
        ConfigError: Unknown ``arch`` or a non-positive ``num_classes``.
        CheckpointError: ``weights_path`` cannot be loaded.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"argument 'num_classes' must be a positive integer, got {num_classes!r}")
    if arch == "tiny":
        net: nn.Module = TinySegNet(num_classes)
        head: tuple[str, ...] = ("classifier.",)
    elif arch in SEGMENTER_ARCHS:
        from torchvision.models import segmentation

        net = getattr(segmentation, arch)(weights=None, weights_backbone=None, num_classes=num_classes, aux_loss=False)
        head = ("classifier.",)
    else:
        raise ConfigError(f"argument 'arch': unknown segmentation architecture {arch!r}; choose from {', '.join(SEGMENTER_ARCHS)}")
    if weights_path:
        load_local_weights(net, weights_path, head, drop_prefixes=("aux_classifier.",))
    return Segmenter(arch, net)
