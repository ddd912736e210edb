"""The model zoo (jpegnn.zoo, ``jpegnn zoo``): release files, the index, short names in every command.

One tiny mbt2018-mean (N=8, M=12) is trained for one step and released into a temporary zoo
folder (``$JPEGNN_ZOO_DIR``); tests that change the zoo work on a copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import jpegnn.zoo as zoo
from jpegnn.cli import main
from jpegnn.errors import CheckpointError, ConfigError
from jpegnn.models.lic import default_lambda
from tests.data.imagegen import write_rgb_png
from tests.helpers import RandomImages

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "tests" / "conf" / "lic_tiny.yaml")  # bmshj2018-hyperprior, quality 1, N=8, M=12
FAMILY = "tiny-mean"
NAME = "tiny-mean-q1"


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zoo_images")
    write_rgb_png(root / "a.png", 48, 64, seed=1)
    write_rgb_png(root / "b.png", 40, 56, seed=2)
    return root


def _lic_tiny(images: Path, out: Path) -> list[str]:
    """tests/conf/lic_tiny.yaml as an mbt2018-mean (quality 1, N=8, M=12) on ``images``."""
    return ["--config", TINY, *[f"--data.init_args.{r}.init_args.root={images}" for r in ("train", "val", "test")],
            "--model.init_args.architecture=mbt2018-mean", f"--trainer.default_root_dir={out}"]


@pytest.fixture(scope="module")
def ckpt(images, tmp_path_factory) -> Path:
    """A one-step `jpegnn fit` checkpoint of an mbt2018-mean, quality 1, N=8, M=12."""
    out = tmp_path_factory.mktemp("zoo_ckpt")
    fit = ["fit", *_lic_tiny(images, out), "--trainer.max_steps=1", "--trainer.limit_val_batches=0",
           "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint", f"--trainer.callbacks.dirpath={out / 'ck'}"]
    assert main(fit) == 0
    return next((out / "ck").glob("*.ckpt"))


@pytest.fixture(scope="module")
def zoo_folder(ckpt, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zoo")
    zoo.release(ckpt, FAMILY, cpu_hours=0.01, data="2 random 64x64 images", config=TINY, notes="test",
                zoo_dir=folder)
    return folder


@pytest.fixture(autouse=True)
def _zoo_env(zoo_folder, monkeypatch):
    monkeypatch.setenv(zoo.ENV_VAR, str(zoo_folder))


@pytest.fixture()
def zoo_copy(zoo_folder, tmp_path, monkeypatch) -> Path:
    """A private copy of the zoo (for tests that change it), made the active zoo."""
    copy = tmp_path / "zoo_copy"
    shutil.copytree(zoo_folder, copy)
    monkeypatch.setenv(zoo.ENV_VAR, str(copy))
    return copy


def _checkpoint_model(ckpt):
    from jpegnn.tasks.lic import LICModule
    from jpegnn.tasks.loading import load_module

    model = load_module(ckpt, LICModule).model
    model.update(force=True)
    return model


# ---------------------------------------------------------------------- release, index, Python API
def test_release_writes_a_hashed_weights_only_file_and_its_index_entry(zoo_folder, ckpt):
    [e] = zoo.index()
    assert (e.name, e.family, e.architecture, e.quality, e.N, e.M, e.distortion) == (
        NAME, FAMILY, "mbt2018-mean", 1, 8, 12, "mse")
    assert e.lmbda == default_lambda(1) and e.steps == 1 and e.cpu_hours == 0.01
    assert (e.data, e.config, e.notes, e.kodak) == ("2 random 64x64 images", TINY, "test", None)
    file = zoo_folder / e.file
    assert e.file == f"tiny-mean-1-{e.sha256[:8]}.pth.tar" and e.bytes == file.stat().st_size
    assert zoo.available() == [NAME] and zoo.path(NAME) == file
    doc = json.loads((zoo_folder / "index.json").read_text())
    assert doc["format"] == 1 and doc["models"][0]["sha256"] == e.sha256 and "folder" not in doc["models"][0]

    state = torch.load(file, weights_only=True)  # plain tensors only, tables built
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert state["entropy_bottleneck._quantized_cdf"].numel() > 0

    # CompressAI's own eval_model loader rebuilds it (its module sets one thread on import: restored)
    threads = torch.get_num_threads()
    try:
        from compressai.utils.eval_model.__main__ import load_checkpoint
    finally:
        torch.set_num_threads(threads)
    net = load_checkpoint("mbt2018-mean", False, str(file))
    assert (net.N, net.M) == (8, 12)


def test_load_gives_the_checkpoints_network_and_codes(ckpt):
    net = zoo.load(FAMILY, quality=1)
    assert not net.training
    ref = _checkpoint_model(ckpt)
    for key, value in ref.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    for other in (zoo.load(NAME), zoo.load("zoo:" + NAME), zoo.load("mbt2018-mean", quality=1)):
        assert torch.equal(other.g_a[0].weight, net.g_a[0].weight)
    x = RandomImages(1, (64, 64), seed=3)[0]["image"][None]
    with torch.no_grad():
        ours, theirs = net.compress(x), ref.compress(x)
        assert ours["strings"] == theirs["strings"]
        x_hat = net.decompress(ours["strings"], ours["shape"])["x_hat"]
        assert torch.equal(x_hat, ref.decompress(theirs["strings"], theirs["shape"])["x_hat"])
    assert x_hat.shape == x.shape


def test_load_module_is_the_licmodule_the_commands_use():
    module = zoo.load_module(NAME)
    assert module.zoo_entry.name == NAME and module.hparams.results_name == FAMILY
    assert module.hparams.architecture == "mbt2018-mean" and module.lmbda == default_lambda(1)
    assert "weights" not in module.hparams


def test_export_weights_of_a_short_name_rewrites_the_release_file(tmp_path, capsys):
    out = tmp_path / "again.pth.tar"
    assert main(["export-weights", "--ckpt", NAME, "--out", str(out)]) == 0
    assert f"sha256 {zoo.entry(NAME).sha256}" in capsys.readouterr().out  # byte for byte the release file
    assert torch.is_grad_enabled()  # the command's no_grad is scoped, not left on for the caller


def test_a_flipped_byte_or_a_missing_file_is_a_clear_error(zoo_copy, capsys):
    [e] = zoo.index()
    file = zoo_copy / e.file
    assert zoo.path(NAME) == file  # hashed once, cached
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x01
    file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        zoo.load(NAME)
    actual = zoo._sha256(file, cached=False)
    assert str(file) in str(err.value) and e.sha256 in str(err.value) and actual in str(err.value)
    assert main(["zoo", "verify"]) == 2
    out = capsys.readouterr()
    assert len(out.err.strip().splitlines()) == 1 and e.sha256 in out.err
    assert main(["compress", "x.png", "y.jnn", "--ckpt", NAME]) == 2
    assert "is corrupt or was replaced" in capsys.readouterr().err
    file.unlink()
    with pytest.raises(CheckpointError, match=f"model zoo file not found: {file}"):
        zoo.path(NAME)


def test_unknown_and_ambiguous_names_list_the_zoo(zoo_copy, ckpt):
    with pytest.raises(ConfigError, match=f"no model 'nope'; available: {NAME}"):
        zoo.load("nope")
    with pytest.raises(ConfigError, match="no model 'tiny-mean quality 5'"):
        zoo.entry(FAMILY, quality=5)
    zoo.release(ckpt, FAMILY, 2, cpu_hours=None, data="d", config="c")
    assert zoo.available() == [NAME, "tiny-mean-q2"]
    with pytest.raises(ConfigError, match="ambiguous, give the quality: tiny-mean-q1, tiny-mean-q2"):
        zoo.entry(FAMILY)
    assert zoo.entry("mbt2018-mean", 2).name == "tiny-mean-q2"


def test_a_replaced_rate_removes_its_old_file(zoo_copy, ckpt, tmp_path):
    [old] = zoo.index()
    state = torch.load(ckpt, weights_only=True)
    state["state_dict"]["model.g_s.0.bias"] += 0.01
    changed = tmp_path / "changed.ckpt"
    torch.save(state, changed)
    new = zoo.release(changed, FAMILY, cpu_hours=1.5, data="d", config="c", steps=7)
    assert new.sha256 != old.sha256 and new.steps == 7
    assert [e.file for e in zoo.index()] == [new.file] and not (zoo_copy / old.file).exists()
    assert sorted(p.name for p in zoo_copy.iterdir()) == sorted(["index.json", new.file])
    assert zoo.verify() == []


def test_remove_takes_out_a_rate_or_a_family_and_their_files(zoo_copy, ckpt, capsys):
    zoo.release(ckpt, FAMILY, 2, cpu_hours=None, data="d", config="c")
    zoo.release(ckpt, "other", 1, cpu_hours=None, data="d", config="c")
    files = {e.name: e.file for e in zoo.index()}
    assert [e.name for e in zoo.remove(f"{FAMILY}-q2")] == [f"{FAMILY}-q2"]
    assert zoo.available() == ["other-q1", NAME] and not (zoo_copy / files[f"{FAMILY}-q2"]).exists()
    assert main(["zoo", "remove", FAMILY]) == 0
    assert f"removed {NAME} ({files[NAME]}," in capsys.readouterr().out
    assert zoo.available() == ["other-q1"] and zoo.verify() == []
    assert sorted(p.name for p in zoo_copy.iterdir()) == sorted(["index.json", files["other-q1"]])
    with pytest.raises(ConfigError, match="no model or family 'tiny-mean' to remove; available: other-q1"):
        zoo.remove(FAMILY)
    assert main(["zoo", "remove", "nope"]) == 2
    assert "no model or family 'nope' to remove" in capsys.readouterr().err


def test_release_refuses_bad_families_and_qualities(ckpt, tmp_path):
    for family in ("Bad Name", "x-q3", "a/b"):
        with pytest.raises(ConfigError, match="--family"):
            zoo.release(ckpt, family, cpu_hours=1, data="d", config="c", zoo_dir=tmp_path)
    with pytest.raises(ConfigError, match="--quality must be 1..8"):
        zoo.release(ckpt, FAMILY, 9, cpu_hours=1, data="d", config="c", zoo_dir=tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        zoo.release(tmp_path / "none.ckpt", FAMILY, cpu_hours=1, data="d", config="c", zoo_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_source_prefers_existing_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert isinstance(zoo.checkpoint_source(NAME), zoo.ZooEntry)
    (tmp_path / NAME).write_bytes(b"a local file of that name")
    assert zoo.checkpoint_source(NAME) == Path(NAME)
    assert isinstance(zoo.checkpoint_source("zoo:" + NAME), zoo.ZooEntry)
    with pytest.raises(CheckpointError, match=r"--ckpt: checkpoint not found: nope \(.*jpegnn zoo list"):
        zoo.checkpoint_source("nope", "--ckpt")
    with pytest.raises(ConfigError, match="no model 'nope'"):
        zoo.checkpoint_source("zoo:nope")


# ---------------------------------------------------------------------- the commands
def test_compress_and_decompress_with_a_short_name(ckpt, images, tmp_path, capsys):
    src = images / "a.png"
    jnn, png = tmp_path / "a.jnn", tmp_path / "a_dec.png"
    assert main(["compress", str(src), str(jnn), "--ckpt", NAME]) == 0
    from jpegnn.coding import model_index
    from jpegnn.coding.container import unpack

    assert model_index.lookup(unpack(jnn.read_bytes()).model_hash) == "zoo:" + NAME
    assert main(["decompress", str(jnn), str(png)]) == 0  # model found through the index: zoo:NAME
    ref_jnn, ref_png = tmp_path / "ref.jnn", tmp_path / "ref.png"
    assert main(["compress", str(src), str(ref_jnn), "--ckpt", str(ckpt)]) == 0
    assert main(["decompress", str(ref_jnn), str(ref_png), "--ckpt", NAME]) == 0
    assert jnn.read_bytes() == ref_jnn.read_bytes()  # the same model, the same bitstream
    assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(ref_png)))
    assert torch.is_grad_enabled()  # compress/decompress keep the caller's grad mode
    assert main(["compress", str(src), str(jnn), "--ckpt", "no-such-model"]) == 2
    assert "checkpoint not found: no-such-model (not a file, nor a model zoo name: see jpegnn zoo list)" in capsys.readouterr().err


def test_bench_with_a_short_name(images, tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "--ckpt", NAME, "--dataset", str(images), "--out", str(out), "-j", "1", "--no-progress"]) == 0
    res = json.loads((out / f"{FAMILY}.json").read_text())
    assert len(res["results"]["bpp"]) == 1 and res["results"]["bpp"][0] > 0
    assert NAME in res["description"]


def test_jpegnn_test_with_zoo_weights_equals_testing_the_checkpoint(ckpt, images, tmp_path, monkeypatch):
    """`jpegnn test --model.init_args.weights NAME` codes every image as the checkpoint's model does
    (what `jpegnn test --ckpt_path` runs per image: evaluate_image after prepare_entropy_models)."""
    from jpegnn.coding.lic import evaluate_image, prepare_entropy_models
    from jpegnn.data.io import load_rgb, to_float
    from jpegnn.tasks.lic import LICModule
    from jpegnn.tasks.loading import load_module

    monkeypatch.chdir(tmp_path)
    assert main(["test", *_lic_tiny(images, tmp_path), "--model.init_args.weights", NAME]) == 0
    ours = json.loads((tmp_path / "results.json").read_text())["results"]
    model = load_module(ckpt, LICModule).model
    prepare_entropy_models(model, "compressai")
    rows = [evaluate_image(model, to_float(load_rgb(images / f))[None], f) for f in ("a.png", "b.png")]
    assert ours["bpp"][0] == pytest.approx(np.mean([r["bpp"] for r in rows]), rel=1e-12)
    assert ours["psnr-rgb"][0] == pytest.approx(np.mean([r["psnr_rgb"] for r in rows]), rel=1e-12)


def test_profile_with_a_short_name(tmp_path, capsys):
    fast = ["--size", "64x64", "--repeats", "1", "--warmup", "0", "--no-energy"]
    out = tmp_path / "p.json"
    assert main(["profile", "--ckpt", NAME, *fast, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["model"] == NAME and doc["params"] > 0 and doc["decode_ms"] > 0
    assert main(["profile", "--config", TINY, "--override", "model.init_args.architecture=mbt2018-mean",
                 "--ckpt", NAME, *fast, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["model"] == f"lic_tiny [{NAME}]"
    assert main(["profile", "--ckpt", "no-such-model", *fast]) == 2
    assert "--ckpt: checkpoint not found: no-such-model" in capsys.readouterr().err


def test_zoo_list_and_verify(zoo_folder, capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    [e] = zoo.index()
    for text in (NAME, "mbt2018-mean", "8/12", e.file, "1 models in", "n/a"):
        assert text in out, text
    assert main(["zoo", "verify"]) == 0
    assert "ok: 1 release files" in capsys.readouterr().out
    assert main(["zoo", "frobnicate"]) == 2
    assert "jpegnn: error: zoo: argument {list,verify,release,remove,widen,add-context}: invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_zoo_release_command_reads_kodak_results(zoo_copy, ckpt, tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"name": "x", "protocol": "compressai",
                                   "results": {"bpp": [0.5], "psnr-rgb": [30.0], "ms-ssim-rgb": [0.95]}}))
    args = ["zoo", "release", "--ckpt", str(ckpt), "--family", "other", "--quality", "4", "--cpu-hours", "2",
            "--data", "photos", "--config", "configs/zoo/x.yaml", "--kodak-json", str(results), "--notes", "n"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    e = zoo.entry("other-q4")
    assert f"wrote {zoo_copy / e.file}" in printed and "added other-q4" in printed
    assert e.kodak == {"bpp": 0.5, "psnr_rgb": 30.0, "ms_ssim_rgb": 0.95, "protocol": "compressai"}
    assert e.lmbda == default_lambda(1)  # λ as trained; the quality is the release's rate index
    main(["zoo", "list"])
    assert "30" in capsys.readouterr().out


def test_zoo_widen_writes_a_wider_start_that_licmodule_loads(ckpt, tmp_path, capsys):
    from jpegnn.models.lic.export import export_state_dict
    from jpegnn.tasks.lic import LICModule

    out = tmp_path / "wide.pth.tar"
    for source in (NAME, str(ckpt)):  # the architecture comes from the zoo entry / the checkpoint
        assert main(["zoo", "widen", source, "--M", "20", "--out", str(out)]) == 0
        assert "mbt2018-mean N 8 -> 8, M 12 -> 20" in capsys.readouterr().out
    assert torch.load(out, weights_only=True)["g_a.6.weight"].shape == (20, 8, 5, 5)
    assert main(["zoo", "widen", NAME, "--N", "12", "--M", "20", "--out", str(out)]) == 0
    assert "--model.init_args.N 12 --model.init_args.M 20" in capsys.readouterr().out
    assert torch.load(out, weights_only=True)["g_a.6.weight"].shape == (20, 12, 5, 5)
    module = LICModule("mbt2018-mean", quality=1, N=12, M=20, weights=str(out))
    narrow = zoo.load(NAME)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        # the same image up to float rounding (1 ulp on some CPUs: see tests/models/test_lic_widen.py)
        assert torch.allclose(module.model.eval()(x)["x_hat"], narrow(x)["x_hat"], rtol=0, atol=1e-6)
    plain = tmp_path / "plain.pth.tar"
    export_state_dict(narrow, plain)
    assert main(["zoo", "widen", str(plain), "--M", "20", "--out", str(out)]) == 2
    assert "does not record its architecture; give --architecture" in capsys.readouterr().err
    assert main(["zoo", "widen", str(plain), "--architecture", "mbt2018-mean", "--M", "8", "--out", str(out)]) == 2
    assert "widen: M must be an integer at least the weights' M=12, got 8" in capsys.readouterr().err
    assert main(["zoo", "widen", str(plain), "--architecture", "mbt2018-mean", "--out", str(out)]) == 2
    assert "zoo widen: give --N and/or --M" in capsys.readouterr().err


def test_zoo_add_context_writes_an_mbt2018_that_codes_the_same(ckpt, images, tmp_path, capsys):
    from jpegnn.tasks.lic import LICModule

    out = tmp_path / "ctx.pth.tar"
    assert main(["zoo", "add-context", NAME, "--calibration", str(images), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mbt2018 N=8 M=12 from tiny-mean-q1" in printed and "from 2 images" in printed
    assert "--model.init_args.architecture mbt2018" in printed
    module = LICModule("mbt2018", quality=1, N=8, M=12, weights=str(out), latent_quantizer="ste")
    net, mean = module.model.eval(), zoo.load(NAME)
    net.update(force=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a, b = mean.compress(x), net.compress(x)
        assert abs(len(a["strings"][0][0]) - len(b["strings"][0][0])) <= 1
        xa = mean.decompress(a["strings"], a["shape"])["x_hat"]
        xb = net.decompress(b["strings"], b["shape"])["x_hat"]
    assert torch.allclose(xa, xb, rtol=0, atol=1e-5)
    # not a mean-scale model: a clear error naming it
    ctx_ckpt = tmp_path / "hyper.ckpt"
    torch.save({"hyper_parameters": {"architecture": "bmshj2018-hyperprior"}, "state_dict": {}}, ctx_ckpt)
    assert main(["zoo", "add-context", str(ctx_ckpt), "--out", str(out)]) == 2
    assert "is bmshj2018-hyperprior; it needs an mbt2018-mean model" in capsys.readouterr().err


def test_zoo_add_context_can_fit_the_context_to_the_latents(ckpt, images, tmp_path, capsys):
    from jpegnn.tasks.lic import LICModule

    out = tmp_path / "ctx-fit.pth.tar"
    args = ["zoo", "add-context", NAME, "--calibration", str(images), "--out", str(out), "--fit-context", str(images),
            "--fit-steps", "3", "--fit-crop", "64", "--fit-crops-per-image", "3", "--fit-batch", "2"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "fit-context: 6 crops of 64 px from 2 images cached" in printed
    assert "context fitted to 5 crops for 3 steps" in printed and "(estimated, " in printed
    fitted = LICModule("mbt2018", quality=1, N=8, M=12, weights=str(out)).model.state_dict()
    plain = tmp_path / "ctx.pth.tar"
    assert main(["zoo", "add-context", NAME, "--calibration", str(images), "--out", str(plain)]) == 0
    start = LICModule("mbt2018", quality=1, N=8, M=12, weights=str(plain)).model.state_dict()
    moved = {k.split(".")[0] for k in start if start[k].is_floating_point() and not torch.equal(start[k], fitted[k])}
    assert moved <= {"context_prediction", "entropy_parameters"}
    # a folder without images: a clear error naming it
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["zoo", "add-context", NAME, "--out", str(out), "--fit-context", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "ImageFolder: no files with extensions" in err and str(empty) in err


# ---------------------------------------------------------------------- LICModule(weights=...)
def test_licmodule_weights_from_a_name_a_file_or_a_checkpoint(ckpt, zoo_folder):
    from jpegnn.tasks.lic import LICModule

    ref = _checkpoint_model(ckpt).state_dict()
    for weights in (NAME, str(zoo.path(NAME)), str(ckpt)):
        module = LICModule("mbt2018-mean", quality=2, N=8, M=12, weights=weights)
        state = module.model.state_dict()
        assert all(torch.equal(state[k], v) for k, v in ref.items() if not k.endswith("_quantized_cdf")), weights
        assert "weights" not in module.hparams and module.lmbda == default_lambda(2)


def test_licmodule_weights_that_do_not_fit_are_a_config_error(tmp_path):
    from jpegnn.models.lic import build_lic_model
    from jpegnn.models.lic.export import export_state_dict
    from jpegnn.tasks.lic import LICModule

    wide = tmp_path / "wide.pth.tar"
    export_state_dict(build_lic_model("mbt2018-mean", 1, 16, 12), wide)
    with pytest.raises(ConfigError, match=r"^weights: .*wide.pth.tar does not fit the model "
                       r"\('entropy_bottleneck.quantiles' is \[16, 1, 3\] in the file but \[8, 1, 3\] in the model\)$"):
        LICModule("mbt2018-mean", quality=1, N=8, M=12, weights=str(wide))
    with pytest.raises(CheckpointError, match="weights: weights file not found"):
        LICModule("mbt2018-mean", quality=1, N=8, M=12, weights=str(tmp_path / "none.pth.tar"))


# ---------------------------------------------------------------------- the committed zoo
def test_the_committed_zoo_verifies():
    folder = REPO / "checkpoints" / "zoo"
    assert (folder / "index.json").is_file()
    assert zoo.verify(folder) == []  # parses, every file exists with its hash and size, < 60 MB together
    assert sum(e.bytes for e in zoo.index(folder)) < zoo.MAX_TOTAL_BYTES


def test_verify_catches_bad_entries(zoo_folder, tmp_path):
    [e] = zoo.index(zoo_folder)
    good = e.to_json()
    (tmp_path / e.file).write_bytes((zoo_folder / e.file).read_bytes())
    cases = {
        "corrupt or was replaced": dict(good, sha256="0" * 64),
        "bytes, the index says 1": dict(good, bytes=1),
        "model zoo file not found": dict(good, file="missing-1-00000000.pth.tar"),
        "has no 'sha256'": {k: v for k, v in good.items() if k != "sha256"},
        "must be a plain file name": dict(good, file="../x.pth.tar"),
    }
    for message, item in cases.items():
        (tmp_path / "index.json").write_text(json.dumps({"format": 1, "models": [item]}))
        problems = zoo.verify(tmp_path)
        assert any(message in p for p in problems), (message, problems)
    (tmp_path / "index.json").write_text(json.dumps({"format": 1, "models": [good]}))
    assert zoo.verify(tmp_path) == []
    assert "over the 0 MB limit" in zoo.verify(tmp_path, max_total_bytes=100)[0]
    (tmp_path / "index.json").write_text("{not json")
    assert "is not readable JSON" in zoo.verify(tmp_path)[0]
