"""Classifier/segmenter construction, input checks and local weight loading (CPU, no downloads)."""

from __future__ import annotations

import pytest
import torch

from jpegnn.errors import CheckpointError, ConfigError
from jpegnn.models.classifiers import build_classifier
from jpegnn.models.segmenters import build_segmenter


@pytest.mark.parametrize("build,arch", [(build_classifier, "small_cnn"), (build_segmenter, "tiny")])
@pytest.mark.parametrize("channels", [1, 4])
def test_non_rgb_input_is_a_config_error(build, arch, channels):
    # a grey image used to broadcast silently against the 3-channel ImageNet mean/std
    net = build(arch, 5).eval()
    with pytest.raises(ConfigError, match=rf"RGB.*3 channels.*got {channels}"):
        net(torch.rand(1, channels, 32, 32))


@pytest.mark.parametrize("build", [build_classifier, build_segmenter])
def test_unknown_arch_names_the_argument(build):
    with pytest.raises(ConfigError, match=r"argument 'arch'.*'bogus'"):
        build("bogus", 5)


def _small_cnn_state(num_classes: int = 10) -> dict[str, torch.Tensor]:
    return build_classifier("small_cnn", num_classes).net.state_dict()


def test_weights_without_num_batches_tracked_load(tmp_path):
    # older torchvision/timm files have no BatchNorm num_batches_tracked entries
    state = {k: v for k, v in _small_cnn_state().items() if not k.endswith("num_batches_tracked")}
    state["features.0.0.weight"] = torch.full_like(state["features.0.0.weight"], 0.5)
    torch.save(state, tmp_path / "old.pth")
    net = build_classifier("small_cnn", 10, str(tmp_path / "old.pth"))
    assert torch.all(net.net.features[0][0].weight == 0.5)


def test_torchvision_reference_checkpoint_model_wrapper(tmp_path):
    # torchvision's references/classification/train.py saves {"model": ..., "optimizer": ..., "epoch": ...}
    state = {"module." + k: v for k, v in _small_cnn_state(1000).items()}
    state["module.features.0.0.weight"] = torch.full_like(state["module.features.0.0.weight"], 0.25)
    torch.save({"model": state, "optimizer": {}, "epoch": 3}, tmp_path / "ref.pth")
    net = build_classifier("small_cnn", 10, str(tmp_path / "ref.pth"))
    assert torch.all(net.net.features[0][0].weight == 0.25)


def test_checkpoint_of_another_arch_names_the_file(tmp_path):
    torch.save({"state_dict": build_classifier("block_mlp", 10).net.state_dict()}, tmp_path / "mlp.pth")
    with pytest.raises(CheckpointError, match=r"mlp\.pth does not fit SmallCNN.*missing"):
        build_classifier("small_cnn", 10, str(tmp_path / "mlp.pth"))
