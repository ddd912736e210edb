"""``jpegnn.metrics`` re-exports the public names of ``jpegnn.metrics.bd``, loaded lazily."""

from __future__ import annotations

import subprocess
import sys

import jpegnn.metrics
import jpegnn.metrics.bd

from .test_bd import HYPER_BPP, HYPER_PSNR, JPEG_BPP, JPEG_PSNR


def test_bd_rate_and_bd_psnr_import_from_the_package_and_agree_with_bd():
    from jpegnn.metrics import bd_psnr, bd_rate

    assert bd_rate is jpegnn.metrics.bd.bd_rate and bd_psnr is jpegnn.metrics.bd.bd_psnr
    args = (JPEG_BPP, JPEG_PSNR, HYPER_BPP, HYPER_PSNR)
    assert bd_rate(*args) == jpegnn.metrics.bd.bd_rate(*args)
    assert bd_psnr(*args) == jpegnn.metrics.bd.bd_psnr(*args)
    assert bd_rate(*args) < 0 < bd_psnr(*args)  # the hyperprior beats JPEG


def test_every_public_name_of_bd_is_exported():
    assert sorted(jpegnn.metrics.__all__) == sorted(jpegnn.metrics.bd.__all__)
    for name in jpegnn.metrics.bd.__all__:
        assert getattr(jpegnn.metrics, name) is getattr(jpegnn.metrics.bd, name)
        assert name in dir(jpegnn.metrics)


def test_unknown_name_is_an_attribute_error():
    try:
        jpegnn.metrics.no_such_metric  # noqa: B018
    except AttributeError as exc:
        assert "no_such_metric" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_package_does_not_import_bd_or_torch():
    code = (
        "import sys, jpegnn.metrics; "
        "print(sorted(m for m in ('jpegnn.metrics.bd', 'torch', 'scipy', 'torchmetrics') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
