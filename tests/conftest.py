"""Session-wide fixtures: tiny generated datasets on disk (never ../shared, never the network).

All are session-scoped and read-only by convention (copy them if a test must modify files);
together they take well under a second to write. Images are smooth random RGB, deterministic.

* ``tiny_image_folder`` -> Path of a folder for :class:`jpegnn.data.ImageFolder`: ``a.png``
  (37 x 53, H x W), ``b.png`` (40 x 48), ``c.png`` (64 x 64) and ``sub/d.png`` (48 x 40);
  item names ``a``, ``b``, ``c``, ``sub/d``.
* ``tiny_vimeo`` -> Path of an official-layout ``vimeo_septuplet`` folder for
  :class:`jpegnn.data.Vimeo90k`: clips ``00001/0001``, ``00001/0002``, ``00002/0001``, each
  ``im1..im7.png`` of 40 x 48, listed in ``sep_trainlist.txt``; there is **no**
  ``sep_testlist.txt`` (so ``split="test"`` raises MissingSplitError). 21 train items.
* ``tiny_kodak`` -> Path of a fake Kodak folder for :class:`jpegnn.data.Kodak`:
  ``kodim01.png .. kodim24.png``, 32 x 48 (landscape) or 48 x 32 for the real portrait
  images 04, 09, 10, 17, 18, 19 (the real sizes divided by 16).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.imagegen import write_rgb_png

TINY_FOLDER_SIZES = {"a.png": (37, 53), "b.png": (40, 48), "c.png": (64, 64), "sub/d.png": (48, 40)}
TINY_VIMEO_CLIPS = ("00001/0001", "00001/0002", "00002/0001")
TINY_VIMEO_SIZE = (40, 48)
KODAK_PORTRAIT = {4, 9, 10, 17, 18, 19}


@pytest.fixture(scope="session")
def tiny_image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four PNGs of odd sizes, one in a sub-folder (see the module docstring)."""
    root = tmp_path_factory.mktemp("tiny_image_folder")
    for i, (name, (h, w)) in enumerate(TINY_FOLDER_SIZES.items()):
        write_rgb_png(root / name, h, w, seed=100 + i)
    return root


@pytest.fixture(scope="session")
def tiny_vimeo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``vimeo_septuplet`` folder with 3 clips x 7 frames of 40 x 48 and only a train list."""
    root = tmp_path_factory.mktemp("vimeo") / "vimeo_septuplet"
    h, w = TINY_VIMEO_SIZE
    for c, clip in enumerate(TINY_VIMEO_CLIPS):
        for k in range(1, 8):
            write_rgb_png(root / "sequences" / clip / f"im{k}.png", h, w, seed=1000 + 10 * c + k)
    (root / "sep_trainlist.txt").write_text("\n".join(TINY_VIMEO_CLIPS) + "\n")
    return root


@pytest.fixture(scope="session")
def tiny_kodak(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``kodim01.png .. kodim24.png`` at 1/16 of the real sizes (32 x 48 or 48 x 32)."""
    root = tmp_path_factory.mktemp("kodak")
    for i in range(1, 25):
        h, w = (48, 32) if i in KODAK_PORTRAIT else (32, 48)
        write_rgb_png(root / f"kodim{i:02d}.png", h, w, seed=i)
    return root


@pytest.fixture(autouse=True)
def _isolated_model_index(tmp_path_factory, monkeypatch):
    """Keep ``jpegnn compress``'s model index (``$JPEGNN_CACHE``) out of the user's home."""
    monkeypatch.setenv("JPEGNN_CACHE", str(tmp_path_factory.mktemp("jpegnn_cache")))


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Benchmark scripts and bench helpers set torch's process-wide thread count (``--threads``,
    one thread per worker); restore it so later tests keep the threads the run started with."""
    import torch

    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
