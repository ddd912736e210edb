"""Every benchmark given a folder or checkpoint that does not exist stops with a one-line usage error
naming the flag (exit status 2), not a traceback from deep inside jpegnn."""

from __future__ import annotations

import pytest

from tests.helpers import load_benchmark


def _cases(missing: str):
    return {
        "jpeg_fidelity_kodak": (["--dataset", missing, "--limit", "1", "--out", f"{missing}.md"], "--dataset"),
        "energy_gpu": (["--dataset", missing, "--device", "cpu", "--allow-no-energy"], "--dataset"),
        "jpeg_quality_sweep": (["--root", missing, "--out", f"{missing}_out"], "--root"),
        "jpeg_accuracy_vs_bpp": (["--root", missing, "--out", f"{missing}_out"], "--root"),
        "kd_sweep": (["--teacher", f"{missing}.ckpt", "--train-root", missing, "--test-root", missing,
                      "--work", f"{missing}_w", "--out", f"{missing}_out"], "--teacher"),
    }


@pytest.mark.parametrize("name", list(_cases("x")))
def test_missing_path_is_a_usage_error_naming_the_flag(name, tmp_path, capsys):
    argv, flag = _cases(str(tmp_path / "nope"))[name]
    with pytest.raises(SystemExit) as exc:
        load_benchmark(name).main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and "nope" in err and "Traceback" not in err


def test_kd_sweep_checks_its_folders(tmp_path, capsys):
    ckpt = tmp_path / "t.ckpt"
    ckpt.write_bytes(b"")
    (tmp_path / "empty").mkdir()
    kd = load_benchmark("kd_sweep")
    base = ["--teacher", str(ckpt), "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit):
        kd.parse_args(base + ["--train-root", str(tmp_path / "nope"), "--test-root", str(tmp_path)])
    assert "--train-root" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        kd.parse_args(base + ["--train-root", str(tmp_path), "--test-root", str(tmp_path / "empty")])
    assert "--test-root: no .png/.jpg images" in capsys.readouterr().err
