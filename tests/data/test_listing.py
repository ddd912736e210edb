"""Listing edge cases: symlink cycles in image folders, list files saved with a UTF-8 BOM."""

from __future__ import annotations

import os

import pytest

from jpegnn.data import ClassFolder, ImageFolder, Vimeo90k
from tests.data.imagegen import write_rgb_png

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")


@needs_symlinks
def test_image_folder_symlink_cycle_lists_each_image_once(tmp_path):
    # os.walk(followlinks=True) followed 'loop -> ..' until ELOOP: 1 image became 321 items.
    write_rgb_png(tmp_path / "imgs" / "a.png", 8, 8, seed=1)
    write_rgb_png(tmp_path / "imgs" / "sub" / "b.png", 8, 8, seed=2)
    os.symlink("..", tmp_path / "imgs" / "sub" / "loop")
    ds = ImageFolder(tmp_path / "imgs")
    assert ds.names == ["a", "sub/b"]


@needs_symlinks
def test_image_folder_still_follows_links_to_other_folders(tmp_path):
    write_rgb_png(tmp_path / "elsewhere" / "c.png", 8, 8, seed=3)
    write_rgb_png(tmp_path / "imgs" / "a.png", 8, 8, seed=1)
    os.symlink(tmp_path / "elsewhere", tmp_path / "imgs" / "linked")
    assert ImageFolder(tmp_path / "imgs").names == ["a", "linked/c"]


@needs_symlinks
def test_class_folder_symlink_cycle_lists_each_image_once(tmp_path):
    write_rgb_png(tmp_path / "train" / "cat" / "x.png", 8, 8, seed=1)
    write_rgb_png(tmp_path / "train" / "dog" / "y.png", 8, 8, seed=2)
    write_rgb_png(tmp_path / "train" / "cat" / "sub" / "z.png", 8, 8, seed=3)
    os.symlink("..", tmp_path / "train" / "cat" / "sub" / "up")  # back to cat/
    ds = ClassFolder(tmp_path / "train")
    assert ds.names == ["cat/sub/z", "cat/x", "dog/y"] and ds.labels == [0, 0, 1]


def test_vimeo_list_with_utf8_bom(tmp_path):
    # Windows editors save 'UTF-8 with BOM'; the BOM became part of the first clip id.
    root = tmp_path / "vimeo_triplet"
    for k in (1, 2, 3):
        write_rgb_png(root / "sequences" / "00001" / "0001" / f"im{k}.png", 8, 8, seed=k)
    (root / "tri_trainlist.txt").write_bytes("\ufeff00001/0001\r\n".encode())
    ds = Vimeo90k(root)
    assert ds.names[0] == "00001/0001/im1"
    assert ds[0]["image"].shape == (3, 8, 8)


def test_class_folder_accepts_a_single_extension_string(tmp_path):
    # extensions="png" (as a CLI gives it) was split into characters: ".p", ".n", ".g".
    write_rgb_png(tmp_path / "cat" / "x.png", 8, 8, seed=1)
    write_rgb_png(tmp_path / "cat" / "y.bmp", 8, 8, seed=2)
    assert ClassFolder(tmp_path, extensions="png").names == ["cat/x"]
    assert ClassFolder(tmp_path, extensions=["BMP"]).names == ["cat/y"]
