"""Errors that jpegnn reports to the user as one clear line.

Every failure caused by user input (a missing dataset root, an unreadable image, a corrupt
bitstream, an unknown architecture, a bad checkpoint) raises a subclass of :class:`JpegnnError`
whose message names the file or argument at fault. The CLI catches these and prints
``jpegnn: error: <message>`` with exit status 2 instead of a deep traceback
(set ``JPEGNN_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import re


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


def check_positive_int(owner: str, arg: str, value: object, allow_none: bool = False) -> None:
    """Raise ``ConfigError("<owner>: argument '<arg>' must be a positive integer, got ...")``
    unless ``value`` is an int >= 1 (not a bool), or None where ``allow_none``."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        or_none = " or None" if allow_none else ""
        raise ConfigError(f"{owner}: argument '{arg}' must be a positive integer{or_none}, got {value!r}")


def one_line_error(exc: BaseException, limit: int = 300) -> str:
    """``exc`` as one short line: ``Type: first line``; a ``load_state_dict`` error is summarized.

    PyTorch's messages span many lines (the weights-only unpickler's advice, every missing key);
    the CLI prints user errors on one line, so only what identifies the problem is kept:
    for a state-dict mismatch the counts of missing/unexpected/mis-sized keys and the first of each.
    """
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].startswith("Error(s) in loading state_dict"):
        parts = []
        body = " ".join(lines[1:])
        for label, pattern in (("missing", r"Missing key\(s\) in state_dict: (.*?)(?:\.\s*(?:Unexpected|size mismatch)|\.?$)"),
                               ("unexpected", r"Unexpected key\(s\) in state_dict: (.*?)(?:\.\s*size mismatch|\.?$)")):
            m = re.search(pattern, body)
            if m:
                keys = re.findall(r'"([^"]+)"', m.group(1))
                if keys:
                    parts.append(f"{len(keys)} {label} key(s), e.g. {keys[0]}")
        sizes = re.findall(r"size mismatch for ([^:]+): copying a param with shape (torch.Size\(\[[^]]*\]\)) from "
                           r"checkpoint, the shape in current model is (torch.Size\(\[[^]]*\]\))", body)
        if sizes:
            name, got, want = sizes[0]
            parts.append(f"{len(sizes)} size mismatch(es), e.g. {name}: {got} in the file vs {want} in the model")
        summary = "; ".join(parts) or lines[0]
        return summary[:limit]
    first = lines[0]
    if first.startswith("Weights only load failed"):
        detail = next((ln for ln in lines[1:] if ln.startswith(("Unsupported", "WeightsUnpickler"))), "")
        first = "not a weights-only loadable PyTorch file" + (f" ({detail})" if detail else "")
    if len(first) > 120 and ". " in first:
        first = first.split(". ")[0]  # torch's first sentence names the fault; the rest is advice
    out = f"{type(exc).__name__}: {first}"
    return out if len(out) <= limit else out[: limit - 3] + "..."


def user_message(exc: JpegnnError) -> str:
    """The one-line message of ``exc``; for an error raised in a DataLoader worker (re-raised by
    torch as ``Caught DataError in DataLoader worker process 0.`` + the worker's traceback), the
    worker's own message."""
    text = str(exc)
    if text.startswith("Caught ") and "Original Traceback" in text:
        last = text.rstrip().splitlines()[-1]
        for name in (f"{type(exc).__module__}.{type(exc).__qualname__}: ", f"{type(exc).__qualname__}: "):
            if last.startswith(name):
                return last[len(name):]
        return last
    return text


def run_script(main, prog: str) -> None:
    """Exit with ``main()``'s status; a :class:`JpegnnError` ends the script with one line
    ``<prog>: error: <message>`` and status 2 (``JPEGNN_DEBUG=1`` shows the traceback), as the
    ``jpegnn`` command does. For the scripts in ``benchmarks/``."""
    import os
    import sys

    try:
        status = main()
    except JpegnnError as exc:
        if os.environ.get("JPEGNN_DEBUG"):
            raise
        print(f"{prog}: error: {user_message(exc)}", file=sys.stderr)
        status = 2
    sys.exit(status or 0)
