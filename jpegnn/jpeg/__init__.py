"""Differentiable, libjpeg-faithful JPEG for PyTorch, with exact file-size counting.

Public API:

* :func:`quality_tables` - Annex K tables scaled like libjpeg / Pillow ``quality=q``.
* :class:`DiffJPEG` - differentiable baseline JPEG (``forward``, ``encode``, ``decode``,
  learnable tables, ``integer_tables``).
* :func:`jpeg_size`, :func:`jpeg_size_from_coefficients` - exact JPEG file size in bytes.
* :mod:`jpegnn.jpeg.rate` - differentiable rate terms for training.
* :mod:`jpegnn.jpeg.export` - tables to Pillow / cjpeg, Pillow round trips.
"""

from jpegnn.jpeg.bitcount import jpeg_size, jpeg_size_breakdown, jpeg_size_from_coefficients
from jpegnn.jpeg.codec import DiffJPEG, JPEGCoefficients, decode, encode
from jpegnn.jpeg.tables import ZIGZAG, quality_tables

__all__ = [
    "DiffJPEG",
    "JPEGCoefficients",
    "ZIGZAG",
    "decode",
    "encode",
    "jpeg_size",
    "jpeg_size_breakdown",
    "jpeg_size_from_coefficients",
    "quality_tables",
]
