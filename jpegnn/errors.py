"""Errors that jpegnn reports to the user as one clear line.

Every failure caused by user input (a missing dataset root, an unreadable image, a corrupt
bitstream, an unknown architecture, a bad checkpoint) raises a subclass of :class:`JpegnnError`
whose message names the file or argument at fault. The CLI catches these and prints
``jpegnn: error: <message>`` with exit status 2 instead of a deep traceback
(set ``JPEGNN_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations


_last_error: "JpegnnError | None" = None


class JpegnnError(Exception):
    """Base class of all user-facing jpegnn errors.

    The most recent instance is remembered so the CLI can report it even when a library in
    between (jsonargparse instantiating a ``class_path``) re-raises it as a long ``ValueError``.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        global _last_error
        _last_error = self


def last_error() -> "JpegnnError | None":
    """The most recently created :class:`JpegnnError` (or None)."""
    return _last_error


def clear_last_error() -> None:
    global _last_error
    _last_error = None


class DataError(JpegnnError):
    """A dataset root, split list or image file is missing, empty or unreadable."""


class ConfigError(JpegnnError):
    """An argument or config value is invalid (unknown architecture, bad quality, ...)."""


class CheckpointError(JpegnnError):
    """A checkpoint file is missing, unreadable or does not hold what was expected."""


class BitstreamError(JpegnnError):
    """A compressed file is truncated, corrupted, or was written by another model."""


class TrainingError(JpegnnError):
    """Training cannot go on (for example the loss became NaN or infinite)."""
