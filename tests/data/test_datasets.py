"""Datasets: lengths, item format, names, lazy listing and error messages that name the path."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from jpegnn.data import CLIC, BuiltinSamples, ImageFolder, Kodak, MissingSplitError, Vimeo90k
from jpegnn.errors import ConfigError, DataError
from tests.conftest import TINY_FOLDER_SIZES, TINY_VIMEO_CLIPS
from tests.data.imagegen import write_rgb_png


def check_item(item, height=None, width=None):
    assert set(item) == {"image", "name"}
    image = item["image"]
    assert image.dtype == torch.float32 and image.dim() == 3 and image.shape[0] == 3
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    if height is not None:
        assert tuple(image.shape[1:]) == (height, width)
    assert isinstance(item["name"], str) and item["name"]


# -- construction is lazy ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda p: ImageFolder(p),
        lambda p: Kodak(p),
        lambda p: CLIC(p),
        lambda p: Vimeo90k(p),
    ],
    ids=["ImageFolder", "Kodak", "CLIC", "Vimeo90k"],
)
def test_missing_root_fails_on_len_not_construction(tmp_path, make):
    root = tmp_path / "does-not-exist"
    ds = make(root)  # no error: configs build every role before any stage runs
    with pytest.raises(DataError, match=str(root)):
        len(ds)


# -- ImageFolder -------------------------------------------------------------------------------
def test_image_folder_lists_sorted_with_relative_names(tiny_image_folder):
    ds = ImageFolder(tiny_image_folder)
    assert len(ds) == 4
    assert ds.names == ["a", "b", "c", "sub/d"]
    for i, (rel, (h, w)) in enumerate(TINY_FOLDER_SIZES.items()):
        item = ds[i]
        check_item(item, h, w)
        ref = np.asarray(Image.open(tiny_image_folder / rel).convert("RGB"), dtype=np.float32) / 255
        np.testing.assert_allclose(item["image"].permute(1, 2, 0).numpy(), ref, atol=1e-7)


def test_image_folder_non_recursive_and_extensions(tiny_image_folder):
    assert ImageFolder(tiny_image_folder, recursive=False).names == ["a", "b", "c"]
    assert len(ImageFolder(tiny_image_folder, extensions=["PNG"])) == 4
    with pytest.raises(DataError, match=r"no files with extensions \.jpg"):
        len(ImageFolder(tiny_image_folder, extensions=("jpg",)))
    with pytest.raises(ConfigError, match="extensions"):
        ImageFolder(tiny_image_folder, extensions=[])


def test_image_folder_skips_hidden_and_keeps_names_unique(tmp_path):
    write_rgb_png(tmp_path / "x.png", 8, 8, seed=1)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.jpg")
    write_rgb_png(tmp_path / ".hidden.png", 8, 8, seed=2)
    write_rgb_png(tmp_path / "__MACOSX" / "y.png", 8, 8, seed=3)
    write_rgb_png(tmp_path / ".cache" / "z.png", 8, 8, seed=4)
    (tmp_path / "notes.txt").write_text("not an image")
    assert ImageFolder(tmp_path).names == ["x.jpg", "x.png"]


def test_image_folder_empty_and_not_a_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=f"no files with extensions .* under {tmp_path}"):
        len(ImageFolder(tmp_path))
    with pytest.raises(DataError, match="not a directory"):
        len(ImageFolder(tmp_path / "notes.txt"))


def test_image_folder_corrupt_file_fails_when_loaded(tmp_path):
    write_rgb_png(tmp_path / "good.png", 8, 8, seed=1)
    (tmp_path / "zbad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    ds = ImageFolder(tmp_path)
    check_item(ds[0])
    with pytest.raises(DataError, match="zbad.png"):
        ds[1]


# -- Kodak -------------------------------------------------------------------------------------
def test_kodak(tiny_kodak):
    ds = Kodak(tiny_kodak)
    assert len(ds) == 24
    assert ds.names == [f"kodim{i:02d}" for i in range(1, 25)]
    check_item(ds[0], 32, 48)
    check_item(ds[3], 48, 32)  # kodim04 is portrait


def test_kodak_lists_missing_files(tiny_kodak, tmp_path):
    root = tmp_path / "kodak"
    shutil.copytree(tiny_kodak, root)
    (root / "kodim03.png").unlink()
    (root / "kodim17.png").unlink()
    with pytest.raises(DataError, match=r"2 of 24 images missing in .*kodak: kodim03.png, kodim17.png"):
        len(Kodak(root))


# -- CLIC --------------------------------------------------------------------------------------
def test_clic_tracks(tiny_clic):
    both = CLIC(tiny_clic, split="valid")
    assert both.names == [
        "professional/valid/pro0", "professional/valid/pro1",
        "mobile/valid/mob0", "mobile/valid/mob1", "mobile/valid/mob2",
    ]
    pro = CLIC(tiny_clic, split="valid", track="professional")
    assert len(pro) == 2
    check_item(pro[1], 21, 30)
    mob = CLIC(tiny_clic, track="mobile")
    assert len(mob) == 3  # the AppleDouble ._mob0.png is skipped
    check_item(mob[2], 30, 22)


def test_clic_flat_and_renamed_layouts(tiny_clic, tmp_path):
    flat = CLIC(tiny_clic / "mobile" / "valid", split="valid")
    assert flat.names == ["mob0", "mob1", "mob2"]
    shutil.copytree(tiny_clic / "professional" / "valid", tmp_path / "professional_valid")
    assert CLIC(tmp_path, split="valid").names == ["professional_valid/pro0", "professional_valid/pro1"]


def test_clic_missing_split_names_paths(tiny_clic):
    with pytest.raises(DataError, match=r"no test images found; looked in .*professional/test"):
        len(CLIC(tiny_clic, split="test", track="professional"))
    with pytest.raises(ConfigError, match="split"):
        CLIC(tiny_clic, split="validation")  # type: ignore[arg-type]


# -- Vimeo-90k ---------------------------------------------------------------------------------
def test_vimeo_septuplet_every_frame_is_an_item(tiny_vimeo):
    ds = Vimeo90k(tiny_vimeo, split="train")
    assert len(ds) == 21
    assert ds.resolve() == (tiny_vimeo, "septuplet")
    assert ds.names[:8] == [f"00001/0001/im{k}" for k in range(1, 8)] + ["00001/0002/im1"]
    assert ds.names[-1] == "00002/0001/im7"
    assert ds.groups()[7] == "00001/0002"
    check_item(ds[9], 40, 48)
    # root may also be the folder containing vimeo_septuplet/
    assert len(Vimeo90k(tiny_vimeo.parent, split="train")) == 21


def test_vimeo_missing_test_list_is_missing_split_error(tiny_vimeo):
    ds = Vimeo90k(tiny_vimeo, split="test")
    with pytest.raises(MissingSplitError, match=str(tiny_vimeo / "sep_testlist.txt")):
        len(ds)
    assert issubclass(MissingSplitError, DataError)


def test_vimeo_triplet_layouts(tiny_vimeo_triplet):
    train = Vimeo90k(tiny_vimeo_triplet, split="train")  # auto; CRLF list with a blank line
    assert train.resolve()[1] == "triplet"
    assert len(train) == 6 and train.names[3] == "00001/0002/im1"
    test = Vimeo90k(tiny_vimeo_triplet, split="test", layout="triplet")
    assert test.names == [f"00003/0007/im{k}" for k in (1, 2, 3)]
    check_item(test[2], 24, 32)
    with pytest.raises(MissingSplitError, match="sep_trainlist.txt"):
        len(Vimeo90k(tiny_vimeo_triplet, layout="septuplet"))


def test_vimeo_missing_frame_and_bad_list(tiny_vimeo, tmp_path):
    root = tmp_path / "vimeo_septuplet"
    shutil.copytree(tiny_vimeo, root)
    (root / "sequences" / TINY_VIMEO_CLIPS[0] / "im3.png").unlink()
    ds = Vimeo90k(root)
    assert len(ds) == 21  # frames are not stat'ed when listing
    with pytest.raises(DataError, match="00001/0001/im3.png"):
        ds[2]
    (root / "sep_testlist.txt").write_text("\n\n")
    with pytest.raises(DataError, match="sep_testlist.txt is empty"):
        len(Vimeo90k(root, split="test"))
    (root / "sep_testlist.txt").write_text("../../etc\n")
    with pytest.raises(DataError, match="bad clip id"):
        len(Vimeo90k(root, split="test"))
    with pytest.raises(DataError, match="no Vimeo-90k list files"):
        len(Vimeo90k(tmp_path / "vimeo_septuplet" / "sequences"))


# -- BuiltinSamples ----------------------------------------------------------------------------
def test_builtin_samples_offline():
    ds = BuiltinSamples()
    assert ds.names == ["astronaut", "coffee", "chelsea", "rocket", "motorcycle_left"]
    check_item(ds[2], 300, 451)  # chelsea
    assert len(BuiltinSamples(["coffee"])) == 1
    with pytest.raises(ConfigError, match="unknown sample.*'lena'"):
        BuiltinSamples(["lena"])
