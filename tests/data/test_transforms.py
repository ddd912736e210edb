"""Patch transforms: sizes, flips, reflect padding of small images, determinism under a seed."""

from __future__ import annotations

import pytest
import torch

from jpegnn.data.transforms import CenterCrop, RandomCropFlip, pad_to_min_size


def flipped(x: torch.Tensor, horizontal: bool, vertical: bool) -> torch.Tensor:
    x = x.flip(-1) if horizontal else x
    return x.flip(-2) if vertical else x


def test_random_crop_is_a_window_of_the_image_up_to_flips():
    torch.manual_seed(0)
    image = torch.rand(3, 10, 12)
    windows = image.unfold(1, 4, 1).unfold(2, 4, 1).permute(1, 2, 0, 3, 4).reshape(-1, 3, 4, 4)
    seen_flips = set()
    for _ in range(24):
        patch = RandomCropFlip(4)(image)
        assert patch.shape == (3, 4, 4) and patch.is_contiguous()
        matches = {
            (fh, fv)
            for fh in (False, True)
            for fv in (False, True)
            if (windows == flipped(patch, fh, fv)).flatten(1).all(1).any()
        }
        assert matches, "patch is not a (flipped) window of the image"
        seen_flips |= matches
    assert len(seen_flips) == 4


def test_random_crop_reproducible_with_seed_and_no_flip_option():
    image = torch.rand(3, 30, 30)
    torch.manual_seed(3)
    a = RandomCropFlip(8)(image)
    torch.manual_seed(3)
    assert torch.equal(a, RandomCropFlip(8)(image))
    torch.manual_seed(4)
    p = RandomCropFlip(30, hflip=False, vflip=False)(image)
    assert torch.equal(p, image)


def test_small_images_are_reflect_padded():
    image = torch.arange(12, dtype=torch.uint8).reshape(1, 3, 4)
    padded = pad_to_min_size(image, 5)
    assert padded.shape == (1, 5, 5) and padded.dtype == torch.uint8
    assert padded[0, 1].tolist() == [0, 1, 2, 3, 2]  # the original row, reflected on the right
    big = pad_to_min_size(torch.rand(3, 2, 3), 64)  # reflection repeated several times
    assert big.shape == (3, 64, 64)
    assert pad_to_min_size(torch.rand(3, 1, 5), 4).shape == (3, 4, 5)  # 1-pixel side: replicate
    assert RandomCropFlip(256)(torch.rand(3, 37, 53)).shape == (3, 256, 256)


def test_center_crop():
    image = torch.arange(7 * 9).reshape(1, 7, 9)
    crop = CenterCrop(3)(image)
    assert crop.tolist() == [[[21, 22, 23], [30, 31, 32], [39, 40, 41]]]  # top 2, left 3
    assert CenterCrop(10)(image).shape == (1, 10, 10)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_sizes(bad):
    with pytest.raises(ValueError):
        RandomCropFlip(bad)
