"""benchmarks/kd_sweep.py: the decode-latency column names the device the decodes were timed on
(_profile uses the GPU whenever NVML energy is available; the header said CPU regardless)."""

from __future__ import annotations

import pytest

from tests.helpers import load_benchmark


def _doc(device: str) -> dict:
    profile = {"params": 1000, "gmacs_encoder": 1.0, "gmacs_decoder": 2.0, "decode_ms": 12.0,
               "energy_j_per_frame": None, "device": device}
    return {
        "meta": {"machine": "m", "finished_utc": "now", "wall_seconds": 60.0, "setup": "s", "command": "c",
                 "notes": ["n"]},
        "teacher": {"points": [], "profile": profile, "hparams": {"N": 8, "M": 12, "N_entropy": 8}},
        "widths": [], "by_width": {},
    }


@pytest.mark.parametrize("device, label", [("cpu", "dec ms (CPU)"), ("cuda", "dec ms (GPU)"), ("cuda:0", "dec ms (GPU)")])
def test_latency_header_names_the_profiling_device(device, label):
    text = load_benchmark("kd_sweep")._markdown(_doc(device))
    assert label in text
