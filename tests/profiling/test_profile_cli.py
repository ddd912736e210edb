"""``jpegnn profile``: the table, the JSON keys, several models per call, one-line errors."""

from __future__ import annotations

import json

import lightning as L
import pytest

from jpegnn.cli import main
from jpegnn.commands.profile import REQUIRED_JSON_KEYS

TINY = "tests/conf/lic_tiny.yaml"  # bmshj2018-hyperprior, N=8, M=12
FAST = ["--size", "64x64", "--repeats", "1", "--warmup", "0"]


def test_table_and_json(tmp_path, capsys):
    out = tmp_path / "profile.json"
    assert main(["profile", "--config", TINY, *FAST, "--json", str(out)]) == 0
    printed = capsys.readouterr()
    header = printed.out.splitlines()[0]
    for column in ("params (M)", "GMACs enc", "GMACs dec", "encode ms", "decode ms", "peak MB", "J/frame"):
        assert column in header
    assert "energy unavailable: no CUDA device" in printed.out
    doc = json.loads(out.read_text())
    for key in REQUIRED_JSON_KEYS:
        assert key in doc, key
    assert doc["energy_j_per_frame"] is None and doc["energy_unavailable"].startswith("no CUDA device")
    assert doc["params"] == 21_563 and doc["gmacs_encoder"] > 0 and doc["gmacs_decoder"] > 0
    assert doc["encode_ms"] > 0 and doc["decode_ms"] > 0 and doc["bits_per_pixel"] > 0
    assert doc["memory_kind"] == "process_peak_rss"
    assert doc["cpu_threads"] >= 1 and f"({doc['cpu_threads']} CPU threads)" in printed.out
    assert len(doc["models"]) == 1 and doc["models"][0]["params"] == doc["params"]


def test_widths_and_several_configs_give_one_row_each(tmp_path, capsys):
    out = tmp_path / "widths.json"
    args = ["profile", "--config", TINY, TINY, "--widths", "8", "16", *FAST, "--no-energy", "--json", str(out)]
    assert main(args) == 0
    rows = json.loads(out.read_text())["models"]
    assert [r["model"] for r in rows] == ["lic_tiny N=8", "lic_tiny N=16"] * 2
    assert rows[0]["gmacs_decoder"] < rows[1]["gmacs_decoder"]
    assert rows[0]["params"] < rows[1]["params"]
    assert all(set(REQUIRED_JSON_KEYS) <= set(r) for r in rows)
    table = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("lic_tiny N=") for line in table) == 4


def test_hyperprior_config_has_5_08_million_parameters(capsys):
    assert main(["profile", "--config", "configs/lic/bmshj2018-hyperprior.yaml", *FAST, "--no-energy"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.split()[:2] == ["bmshj2018-hyperprior", "5.08"]


def test_checkpoint_weights_are_loaded(tmp_path, capsys):
    from jpegnn.tasks.lic import LICModule
    from tests.callbacks.test_profiling_callbacks import TinyData

    module = LICModule("bmshj2018-hyperprior", quality=1, N=8, M=12)
    trainer = L.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        default_root_dir=str(tmp_path))
    trainer.fit(module, TinyData())
    ckpt = tmp_path / "tiny.ckpt"
    trainer.save_checkpoint(ckpt)
    out = tmp_path / "p.json"
    assert main(["profile", "--config", TINY, "--ckpt", str(ckpt), *FAST, "--no-energy", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["model"] == "lic_tiny [tiny.ckpt]" and doc["params"] == 21_563
    # the same weights under a wider config: one line naming --ckpt, the file and the first mismatch
    assert main(["profile", "--config", TINY, "--widths", "16", "--ckpt", str(ckpt), *FAST, "--no-energy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"jpegnn: error: --ckpt: {ckpt} does not fit the configured model (") and "size mismatch" in err, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "no/such.yaml"], "config file not found: no/such.yaml"),
        (["--config", TINY, "--ckpt", "no/such.ckpt"], "checkpoint not found: no/such.ckpt"),
        (["--config", TINY, "--size", "768by512"], "--size: size must be WIDTHxHEIGHT"),
        (["--config", TINY, "--size", "0x512"], "--size: size must be positive"),
        (["--config", TINY, "--widths", "8", "16", "--ckpt", TINY], "--ckpt cannot be combined with several --widths"),
    ],
)
def test_one_line_errors(args, message, capsys):
    assert main(["profile", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("jpegnn: error: ") and message in err[-1]


def test_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_text("not a checkpoint")
    assert main(["profile", "--config", TINY, "--ckpt", str(bad), *FAST, "--no-energy"]) == 2
    assert "is not a readable PyTorch checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--override", "model.init_args.foo=3"], "Option 'foo' is not accepted"),
        (["--widths", "8", "--width-arg", "model.init_args.bar"], "Option 'bar' is not accepted"),
    ],
)
def test_config_that_does_not_instantiate_is_one_line(args, message, capsys):
    assert main(["profile", "--config", TINY, *args, *FAST, "--no-energy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"jpegnn: error: --config {TINY} does not give a model: "), err
    assert message in err[0]


def test_config_without_a_model_is_one_line(capsys):
    assert main(["profile", "--config", "configs/data/kodak.yaml", *FAST, "--no-energy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "configs/data/kodak.yaml does not give a model" in err[0], err


def test_module_without_sides_shows_its_forward_pass(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["profile", "--config", "configs/enhance/rdn-rgb-jpeg20.yaml", "--size", "32x32", "--repeats", "1",
                 "--warmup", "0", "--no-energy", "--json", str(out)]) == 0
    header, _, row = capsys.readouterr().out.splitlines()[:3]
    assert "GMACs fwd" in header and "forward ms" in header
    doc = json.loads(out.read_text())
    assert doc["gmacs_forward"] > 0 and doc["forward_ms"] > 0
    from jpegnn.profiling.tables import format_value

    cells = row.split()
    assert format_value(doc["gmacs_forward"]) in cells and format_value(doc["forward_ms"]) in cells, row


def test_counter_fallback_is_named_in_the_table(capsys):
    assert main(["profile", "--config", "configs/jpeg/frequency.yaml", *FAST, "--no-energy"]) == 0
    out = capsys.readouterr().out
    note = [line for line in out.splitlines() if line.startswith("frequency: MACs of forward counted with")]
    assert len(note) == 1 and note[0].endswith("fvcore trace failed (RuntimeError: unordered_map::at)"), out


def test_energy_unavailable_is_said_once(capsys):
    assert main(["profile", "--config", TINY, TINY, *FAST]) == 0
    printed = capsys.readouterr()
    assert (printed.out + printed.err).count("energy unavailable: no CUDA device") == 1, printed


@pytest.mark.parametrize("message, shown", [
    ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to "
     "allocate 119997600012 bytes. Error code 12 (Cannot allocate memory)", "an allocation of 120.0 GB failed"),
    ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.1 GiB", "an allocation of 2.00 GiB failed"),
])
def test_a_size_that_does_not_fit_in_memory_is_one_line(message, shown, monkeypatch, capsys):
    """(Raised by a stand-in: a real 120 GB request could be granted and then kill the run where
    the kernel overcommits memory.)"""
    import jpegnn.profiling.summary as summary

    def out_of_memory(*args, **kwargs):
        raise RuntimeError(message)

    monkeypatch.setattr(summary, "profile_module", out_of_memory)
    assert main(["profile", "--config", TINY, "--size", "99999x99999", "--no-energy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"jpegnn: error: --size 99999x99999: lic_tiny does not fit in cpu memory at this size ({shown}); "
                   "profile a smaller size (MACs scale with the pixel count)")


def test_other_runtime_errors_are_not_called_out_of_memory(monkeypatch):
    import jpegnn.profiling.summary as summary

    def broken(*args, **kwargs):
        raise RuntimeError("shape mismatch in g_s")

    monkeypatch.setattr(summary, "profile_module", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main(["profile", "--config", TINY, *FAST, "--no-energy"])
