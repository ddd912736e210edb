"""jpegnn.utils.distributed: rows gathered from all ranks, once per image; the run folder."""

from __future__ import annotations

from pathlib import Path

import torch.distributed as dist

from jpegnn.utils import distributed
from jpegnn.utils.distributed import gather_rows, run_dir


def test_single_process_dedupes_and_sorts():
    rows = [{"image": "b", "v": 1}, {"image": "a", "v": 2}, {"image": "b", "v": 3}]
    assert gather_rows(rows) == [{"image": "a", "v": 2}, {"image": "b", "v": 1}]


def test_two_ranks_with_a_padded_shard(monkeypatch):
    """Rank 1's shard repeats rank 0's first image (DistributedSampler padding 3 images to 4)."""
    shards = [[{"image": "k1", "bpp": 0.5}, {"image": "k3", "bpp": 0.7}],
              [{"image": "k2", "bpp": 0.6}, {"image": "k1", "bpp": 0.5}]]

    def all_gather_object(out, obj):
        assert obj is shards[0]  # this rank's rows go in as they are
        out[:] = shards

    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist, "all_gather_object", all_gather_object)
    rows = gather_rows(shards[0])
    assert [r["image"] for r in rows] == ["k1", "k2", "k3"]
    assert sum(r["bpp"] for r in rows) / len(rows) == (0.5 + 0.6 + 0.7) / 3


def test_run_dir_fallbacks(tmp_path, monkeypatch):
    class FakeTrainer:
        log_dir = None
        default_root_dir = str(tmp_path)

    assert run_dir(FakeTrainer()) == tmp_path
    FakeTrainer.log_dir = str(tmp_path / "version_0")
    assert run_dir(FakeTrainer()) == tmp_path / "version_0"
    monkeypatch.chdir(tmp_path)
    assert run_dir(None) == Path(str(tmp_path))
    assert distributed.__all__ == ["run_dir", "gather_rows"]
