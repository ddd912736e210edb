"""Classification networks that read JPEG-decoded images: torchvision ResNets and small CPU-sized nets.

Every network built by :func:`build_classifier` takes ``B x 3 x H x W`` RGB in ``[0, 1]`` (the
differentiable JPEG layer's output) and returns ``B x num_classes`` logits. Input
normalization (ImageNet mean/std) is part of the network, so callers never normalize and
weights trained elsewhere on normalized ImageNet inputs load unchanged.

Architectures (:data:`CLASSIFIER_ARCHS`):

* ``resnet18`` / ``resnet50``: torchvision's, built with ``weights=None`` (never a hub
  download); pretrained weights only from a local file (``weights_path``).
* ``small_cnn``: four stride-2 3x3 conv + BatchNorm + ReLU stages (32-64-128-256 channels),
  global average pooling and a linear head, about 0.4 M parameters: trains from scratch on
  Imagenette-sized data on a CPU in minutes.
* ``block_mlp``: an 8x8 stride-8 convolution (one linear map per JPEG block, able to express
  the block DCT), two 1x1 layers, global average pooling, linear head. Sized for the
  synthetic frequency set, whose label is a nonlinear function (an ordering) of 16 DCT
  coefficients per block.

Loading weights from a file (``weights_path``): a plain ``state_dict`` of the inner network
(e.g. torchvision's ``resnet18-f37072fd.pth``), a dict holding one under ``"state_dict"`` (Lightning,
timm) or ``"model"`` (torchvision's reference training scripts), or a
``QTableClassifier``/``QTableSegmenter`` Lightning checkpoint (its ``net.net.*`` entries are
used, the JPEG tables ignored); ``module.`` prefixes (DataParallel) are stripped. Head tensors whose shape differs from this
network's (1000 ImageNet classes against 10) are skipped so the head is trained anew; BatchNorm
``num_batches_tracked`` entries may be absent (older files); any other missing or mismatching key is a :class:`~jpegnn.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from jpegnn.errors import CheckpointError, ConfigError

__all__ = ["CLASSIFIER_ARCHS", "Classifier", "build_classifier", "load_local_weights", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLASSIFIER_ARCHS: tuple[str, ...] = ("resnet18", "resnet50", "small_cnn", "block_mlp")


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel; constants are non-persistent buffers (not in the state dict)."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 3 or x.shape[-3] != 3:
            # a grey (1-channel) image would otherwise broadcast silently against the RGB mean/std
            raise ConfigError(
                f"the network expects RGB input (B x 3 x H x W, 3 channels in [0, 1]), got {x.shape[-3] if x.dim() >= 3 else 'no'} "
                f"channels (input shape {tuple(x.shape)}); convert grey or RGBA images to RGB"
            )
        return (x - self.mean) / self.std


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNN(nn.Module):
    """Four stride-2 conv stages, global average pooling, dropout and a linear head (any input size)."""

    def __init__(self, num_classes: int, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(3, w, 2), _conv_bn(w, 2 * w, 2), _conv_bn(2 * w, 4 * w, 2), _conv_bn(4 * w, 8 * w, 2),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * w, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


class BlockMLP(nn.Module):
    """Per-8x8-block MLP (stride-8 conv, 1x1 convs), averaged over blocks, linear head.

    Input sides must be multiples of 8 pixels (the JPEG block grid).
    """

    def __init__(self, num_classes: int, hidden: int = 128) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            nn.Conv2d(3, hidden, 8, stride=8), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ConfigError(f"block_mlp needs image sides that are multiples of 8 pixels, got {tuple(x.shape[-2:])}")
        return self.fc(self.blocks(x).mean(dim=(2, 3)))


class Classifier(nn.Module):
    """``Normalize`` followed by the architecture's network; ``forward`` maps [0, 1] RGB to logits."""

    def __init__(self, arch: str, net: nn.Module) -> None:
        super().__init__()
        self.arch = arch
        self.normalize = Normalize()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.normalize(x))


def _clean_state_dict(obj: object, path: Path) -> dict[str, Tensor]:
    for wrapper in ("state_dict", "model"):  # Lightning/timm, torchvision's references/ train.py
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"weights file {path} does not hold a state_dict (a dict of tensors)")
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}
    # a QTableClassifier/QTableSegmenter checkpoint (or the wrapper's own state dict): keep the inner network
    for prefix in ("net.net.", "net."):
        if any(k.startswith(prefix) for k in state):
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def load_local_weights(
    net: nn.Module,
    path: str | os.PathLike,
    head_prefixes: tuple[str, ...] = (),
    drop_prefixes: tuple[str, ...] = (),
) -> list[str]:
    """Load a local ``state_dict`` file into ``net`` (never downloads; ``weights_only=True``).

    Args:
        net: The network whose keys the file must match.
        path: The ``.pth`` / ``.pt`` file.
        head_prefixes: Key prefixes of task-specific output layers: entries under them whose
            shape differs from ``net``'s (another number of classes) are skipped.
        drop_prefixes: Key prefixes of file entries ``net`` has no use for (e.g. torchvision's
            ``aux_classifier.`` when the auxiliary head is off); dropped silently.

    Returns:
        The skipped head keys (empty when everything loaded).

    Raises:
        CheckpointError: Missing/unreadable file, not a state dict, or keys/shapes that do not match.
    """
    from jpegnn.utils.checkpoints import read_torch_file

    path = Path(path)
    obj = read_torch_file(path, what="weights file")
    state = _clean_state_dict(obj, path)
    if drop_prefixes:
        state = {k: v for k, v in state.items() if not k.startswith(drop_prefixes)}
    own = net.state_dict()
    skipped = [
        k for k, v in state.items()
        if k.startswith(head_prefixes) and k in own and tuple(own[k].shape) != tuple(v.shape)
    ]
    state = {k: v for k, v in state.items() if k not in skipped}
    bad_shape = [k for k, v in state.items() if k in own and tuple(own[k].shape) != tuple(v.shape)]
    # BatchNorm's num_batches_tracked is absent from older torchvision/timm files; it only matters
    # with momentum=None, and the freshly built network's counter (0) is kept
    missing = [k for k in own if k not in state and k not in skipped and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if bad_shape or missing or unexpected:
        parts = []
        for what, keys in (("shape mismatch", bad_shape), ("missing", missing), ("unexpected", unexpected)):
            if keys:
                parts.append(f"{what}: {', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''}")
        raise CheckpointError(f"weights file {path} does not fit {type(net).__name__} ({'; '.join(parts)})")
    net.load_state_dict(state, strict=False)
    return skipped


def build_classifier(arch: str, num_classes: int, weights_path: Optional[str] = None) -> Classifier:
    """Build a classifier (see the module docstring for the architectures and weight loading).

    Args:
        arch: One of :data:`CLASSIFIER_ARCHS`.
        num_classes: Output logits.
        weights_path: Optional local file of weights for the inner network.

    Raises:
        ConfigError: Unknown ``arch`` or a non-positive ``num_classes``.
        CheckpointError: ``weights_path`` cannot be loaded.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"argument 'num_classes' must be a positive integer, got {num_classes!r}")
    if arch in ("resnet18", "resnet50"):
        import torchvision

        net: nn.Module = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
        head: tuple[str, ...] = ("fc.",)
    elif arch == "small_cnn":
        net, head = SmallCNN(num_classes), ("fc.",)
    elif arch == "block_mlp":
        net, head = BlockMLP(num_classes), ("fc.",)
    else:
        raise ConfigError(f"argument 'arch': unknown classifier architecture {arch!r}; choose from {', '.join(CLASSIFIER_ARCHS)}")
    if weights_path:
        load_local_weights(net, weights_path, head)
    return Classifier(arch, net)
