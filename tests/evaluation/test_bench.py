"""Benchmark runner, result files, RD plot and the ``jpegnn bench`` command on tiny generated images."""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jpegnn.commands.bench import main as bench_main
from jpegnn.errors import CheckpointError, ConfigError, DataError, JpegnnError
from jpegnn.evaluation.bench import list_dataset, load_reference, run_bench, run_classical_bench
from jpegnn.evaluation.classical import evaluate_codec_on_image, find_quality_for_bpp, get_codec
from jpegnn.evaluation.plots import plot_rd
from jpegnn.evaluation.results import PER_IMAGE_FIELDS
from jpegnn.metrics.bd import BD_TABLE_FIELDS, BjontegaardWarning
from tests.data.imagegen import write_rgb_png

#: H x W; the last one is large enough for MS-SSIM (>= 161 px)
SIZES = {"a.png": (48, 40), "b.png": (40, 72), "c.png": (176, 184)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench_ds")
    for i, (name, (h, w)) in enumerate(SIZES.items()):
        write_rgb_png(root / name, h, w, seed=40 + i)
    return root


@pytest.fixture(scope="module")
def bench_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_out")
    reference = {"name": "Ref", "results": {"bpp": [0.5, 1.0, 2.0], "psnr-rgb": [28.0, 31.0, 34.0]}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BjontegaardWarning)
        res = run_classical_bench(["jpeg", "webp"], dataset, [20, 80], out, workers=2, references=[reference],
                                  bd_method="pchip", progress=False)
    return out, res


def test_bench_writes_all_files(bench_run):
    out, res = bench_run
    expected = {"jpeg.json", "jpeg_per_image.csv", "webp.json", "webp_per_image.csv",
                "rd.png", "rd.svg", "bd_table.csv", "bd_table.md"}
    assert {p.name for p in out.iterdir()} == expected  # no temporary files left behind
    assert {p.name for p in res.files} == expected
    with Image.open(out / "rd.png") as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]
    assert "<svg" in (out / "rd.svg").read_text()


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit deprecation raised inside compressai's import
def test_results_json_is_compressai_format(bench_run):
    out, _ = bench_run
    from compressai.utils.plot.__main__ import parse_json_file  # CompressAI's own reader

    for name in ("jpeg", "webp"):
        data = json.loads((out / f"{name}.json").read_text())
        assert set(data) >= {"name", "description", "results"} and data["name"] == name
        r = data["results"]
        assert set(r) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
        assert all(len(v) == 2 for v in r.values())
        assert r["bpp"][0] < r["bpp"][1] and r["psnr-rgb"][0] < r["psnr-rgb"][1]
        assert all(math.isfinite(v) for v in r["ms-ssim-rgb"])  # from c.png only; tiny ones are NaN
        assert data["meta"]["qualities"] == [20, 80] and data["meta"]["images"] == 3
        for metric in ("psnr", "ms-ssim"):
            parsed = parse_json_file(out / f"{name}.json", metric)
            assert list(parsed["xs"]) == r["bpp"] and len(parsed["ys"]) == 2


def test_per_image_csv_matches_direct_evaluation(bench_run, dataset):
    out, res = bench_run
    with open(out / "jpeg_per_image.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(SIZES) * 2
    assert list(rows[0])[: len(PER_IMAGE_FIELDS)] == list(PER_IMAGE_FIELDS)
    assert {"codec", "quality", "num_bytes"} <= set(rows[0])
    assert sorted({(r["image"], r["width"], r["height"]) for r in rows}) == [
        (n[:-4], str(w), str(h)) for n, (h, w) in sorted(SIZES.items())
    ]
    img = np.asarray(Image.open(dataset / "c.png").convert("RGB"))
    direct = evaluate_codec_on_image(get_codec("jpeg"), img, [80], "c")[0]
    row = next(r for r in rows if r["image"] == "c" and r["quality"] == "80")
    assert int(row["num_bytes"]) == direct["num_bytes"]
    assert float(row["psnr_rgb"]) == pytest.approx(direct["psnr_rgb"])
    assert float(row["ms_ssim_rgb"]) == pytest.approx(direct["ms_ssim_rgb"])
    mean_bpp = np.mean([float(r["bpp"]) for r in rows if r["quality"] == "80"])
    assert res.results["jpeg"]["results"]["bpp"][1] == pytest.approx(mean_bpp)


def test_bd_table_against_first_codec(bench_run):
    out, res = bench_run
    with open(out / "bd_table.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(BD_TABLE_FIELDS)
    assert [r["name"] for r in rows] == ["jpeg", "webp", "Ref (reference)"]
    assert all(r["anchor"] == "jpeg" and r["method"] == "pchip" for r in rows)
    assert float(rows[0]["bd_rate_psnr_pct"]) == 0.0
    assert float(rows[1]["bd_rate_psnr_pct"]) < 0  # WebP needs fewer bits than JPEG at equal PSNR
    assert math.isnan(float(rows[1]["bd_psnr_db"]))  # on these tiny images the bpp ranges do not overlap
    assert math.isnan(float(rows[2]["bd_msssim_db"]))  # the reference has no MS-SSIM
    md = (out / "bd_table.md").read_text()
    assert "BD against **jpeg**" in md and "| webp | 2 |" in md
    assert "webp vs jpeg BD-PSNR: the curves do not overlap in log-rate" in md  # caveats kept with the table


def test_target_bpp_mode(dataset, tmp_path):
    res = run_bench([get_codec("jpeg")], dataset, tmp_path, target_bpp=[0.8, 2.0], workers=1, progress=False)
    data = json.loads((tmp_path / "jpeg.json").read_text())
    assert len(data["results"]["bpp"]) == 2 and data["meta"]["target_bpp"] == [0.8, 2.0]
    with open(tmp_path / "jpeg_per_image.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * len(SIZES) and "target_bpp" in rows[0]
    img = np.asarray(Image.open(dataset / "b.png").convert("RGB"))
    q, bpp = find_quality_for_bpp(get_codec("jpeg"), img, 2.0)
    row = next(r for r in rows if r["image"] == "b" and float(r["target_bpp"]) == 2.0)
    assert int(row["quality"]) == q and float(row["bpp"]) == pytest.approx(bpp)
    assert res.results["jpeg"]["meta"]["mean_quality"][0] < res.results["jpeg"]["meta"]["mean_quality"][1]


def test_dataset_errors(tmp_path, dataset):
    with pytest.raises(DataError, match="not found"):
        list_dataset(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="empty"):
        list_dataset(tmp_path / "empty")
    with pytest.raises(DataError, match="image file not found"):
        list_dataset([dataset / "a.png", dataset / "zzz.png"])
    assert [n for _, n in list_dataset([dataset / "b.png", dataset / "a.png"])] == ["b", "a"]


def test_runner_argument_errors(tmp_path, dataset):
    with pytest.raises(ConfigError, match="unknown codec 'nope'; known codecs: jpeg"):
        run_classical_bench(["jpeg", "nope"], dataset, None, tmp_path)
    with pytest.raises(ConfigError, match="unique"):
        run_bench([get_codec("jpeg"), get_codec("jpeg")], dataset, tmp_path)
    with pytest.raises(ConfigError, match="quality"):
        run_classical_bench(["jpeg"], dataset, [0, 50], tmp_path)
    with pytest.raises(ConfigError, match="target bpp"):
        run_classical_bench(["jpeg"], dataset, None, tmp_path, target_bpp=[-1.0])
    with pytest.raises(DataError, match="reference results file not found"):
        load_reference(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text('{"name": "x"}')
    with pytest.raises(DataError, match="not in CompressAI format"):
        load_reference(tmp_path / "bad.json")


def test_unknown_anchor(tmp_path, dataset):
    with pytest.raises(ConfigError, match="anchor 'x264'"):
        run_classical_bench(["jpeg"], [dataset / "a.png"], [50], tmp_path, workers=1, anchor="x264", progress=False)


def test_cli_writes_results(tmp_path, dataset, capsys):
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"name": "Old JPEG", "results": {"bpp": [0.5, 1, 2, 4], "psnr-rgb": [25, 28, 31, 35]}}))
    rc = bench_main(["--codec", "jpeg", "--dataset", str(dataset), "--out", str(tmp_path / "o"),
                     "--quality", "30,60", "90", "-j", "1", "--reference", str(ref), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "benchmarked 3 images" in printed and "Old JPEG (reference)" in printed
    data = json.loads((tmp_path / "o" / "jpeg.json").read_text())
    assert data["meta"]["qualities"] == [30, 60, 90]
    assert (tmp_path / "o" / "rd.svg").exists()


@pytest.mark.parametrize(
    "argv, error, match",
    [
        (["--codec", "jpeg", "mpeg"], ConfigError, "unknown codec 'mpeg'; known codecs"),
        (["--dataset-override"], ConfigError, "unrecognized arguments"),
        (["--ckpt", "{tmp}/none.ckpt"], CheckpointError, "checkpoint not found"),
        (["--quality", "abc"], ConfigError, "not an integer"),
        (["--target-bpp", "x"], ConfigError, "not a number"),
    ],
)
def test_cli_errors(argv, error, match, tmp_path, dataset):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    with pytest.raises(error, match=match):
        bench_main(["--dataset", str(dataset), "--out", str(tmp_path / "o"), "--no-progress", *argv])


def test_cli_dataset_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        bench_main(["--dataset", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError):
        bench_main(["--dataset", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert issubclass(DataError, JpegnnError)


def test_plot_rd_handles_missing_values(tmp_path):
    curves = [
        {"name": "a", "results": {"bpp": [0.5, None, 1.5], "psnr-rgb": [30, 31, 33], "ms-ssim-rgb": [0.95, 0.97, None]}},
        {"name": "paper", "bpp": [0.4, 0.9], "psnr-rgb": [29, 32], "ms-ssim-db-rgb": [12.0, 15.0]},
    ]
    paths = plot_rd(curves, tmp_path / "sub" / "fig", title="t", reference_style=[False, True])
    assert [p.name for p in paths] == ["fig.png", "fig.svg"]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["fig.png", "fig.svg"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("[1, 2]", "not in CompressAI format"),  # was AttributeError: 'list' object has no attribute 'setdefault'
        ('{"results": {"bpp": [1, 2], "psnr-rgb": [30]}}', r"results.psnr-rgb has 1 values, results.bpp has 2"),
        ('{"results": {"bpp": ["a", "b"], "psnr-rgb": [30, 31]}}', r"results.bpp holds a non-number \('a'\)"),
    ],
)
def test_malformed_reference_is_a_data_error_naming_the_file(tmp_path, text, match):
    path = tmp_path / "ref.json"
    path.write_text(text)
    with pytest.raises(DataError, match=match) as info:
        load_reference(path)
    assert str(path) in str(info.value)
