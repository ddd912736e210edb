"""Image file <-> ``.jnn`` file with a trained LICModule checkpoint (``jpegnn compress/decompress``)."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from jpegnn.coding import container, model_index
from jpegnn.coding.container import Container, model_hash, pack, unpack
from jpegnn.coding.lic import EncodedImage, decode, encode, padding_multiple, prepare_entropy_models
from jpegnn.coding.protocol import DEFAULT_PROTOCOL, PROTOCOLS, EvalProtocol, get_protocol
from jpegnn.coding.refine import LatentRefinement, RefinementStats
from jpegnn.errors import BitstreamError, CheckpointError, ConfigError, DataError
from jpegnn.utils.atomic import write_bytes_atomic


@dataclass
class CodingReport:
    """What one compress/decompress call measured (bytes, bpp over original pixels, seconds)."""

    path: str
    width: int
    height: int
    file_bytes: int
    payload_bytes: int
    bpp: float
    seconds: float
    #: encoder-side latent refinement, when it ran (:mod:`jpegnn.coding.refine`)
    refinement: RefinementStats | None = None

    def line(self, verb: str) -> str:
        text = (
            f"{verb} {self.path}: {self.width}x{self.height}, {self.file_bytes} bytes "
            f"({self.payload_bytes} payload + {self.file_bytes - self.payload_bytes} header), "
            f"{self.bpp:.4f} bpp (actual, whole file), {self.seconds * 1000:.1f} ms"
        )
        r = self.refinement
        if r is not None:
            text += (
                f"; latent refined: objective (estimated bpp + weighted distortion) {r.loss_before:.4f} -> "
                f"{r.loss_after:.4f} ({100 * (r.loss_after / r.loss_before - 1):+.2f} %) at step "
                f"{r.best_iteration} of {r.iterations}, {r.seconds:.1f} s"
            )
        return text


def load_codec_module(ckpt: str | Path, protocol: str | EvalProtocol = DEFAULT_PROTOCOL):
    """Load a LICModule checkpoint (or model zoo short name, :mod:`jpegnn.zoo`) for coding, with
    the CDF tables built as ``protocol`` says.

    The protocol is kept on the module (``module.coding_protocol``) so that :func:`compress_image`
    pads as the tables were built for.
    """
    from jpegnn.tasks.lic import LICModule
    from jpegnn.tasks.loading import load_module

    p = get_protocol(protocol)
    module = load_module(ckpt, LICModule)
    prepare_entropy_models(module.model, p)
    module.coding_protocol = p
    return module


def protocol_of_placement(placement: str) -> EvalProtocol:
    """The protocol whose padding a ``.jnn`` file's placement byte records."""
    for p in PROTOCOLS.values():
        if p.placement == placement:
            return p
    raise BitstreamError(f"unknown padding placement {placement!r}")


def _check_output(out: Path) -> None:
    if out.is_dir():
        raise ConfigError(f"output {out} is a directory; give a file name")


def _write_output(out: Path, data: bytes) -> None:
    try:
        write_bytes_atomic(out, data)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from None


def image_format(path: str | Path) -> str:
    """Pillow format that can write ``path``, from its extension (``ConfigError`` if none)."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise ConfigError(
            f"output image {path}: cannot tell an image format from the extension {path.suffix or '(none)'!r}; "
            "use .png (lossless)"
        )
    return fmt


def compress_image(
    image: str | Path,
    out: str | Path,
    module,
    ckpt_path: str | None = None,
    refinement: LatentRefinement | None = None,
) -> CodingReport:
    """Encode ``image`` into the ``.jnn`` file ``out`` (written atomically), refining its latent
    first when ``refinement`` has iterations (the model must support it: a ``ConfigError``
    before any refinement step otherwise)."""
    from jpegnn.data.io import load_rgb

    out = Path(out)
    _check_output(out)
    x = load_rgb(image).float().div(255).unsqueeze(0)
    h, w = x.shape[-2:]
    if max(h, w) > container.MAX_SIDE:  # the .jnn header would be refused by decompress
        raise DataError(f"{image}: {w}x{h} pixels; a .jnn file holds at most {container.MAX_SIDE} pixels per side")
    protocol = getattr(module, "coding_protocol", get_protocol(DEFAULT_PROTOCOL))
    t0 = time.perf_counter()
    enc = encode(module.model, x, protocol, refinement, module.criterion)
    seconds = time.perf_counter() - t0
    mhash = model_hash(module.model)
    data = pack(
        Container(
            architecture=module.hparams.architecture, model_hash=mhash, height=enc.height, width=enc.width,
            pad_multiple=enc.multiple, shape=enc.shape, strings=enc.strings, placement=enc.placement,
        )
    )
    _write_output(out, data)
    if ckpt_path is not None:
        zoo_entry = getattr(module, "zoo_entry", None)  # a model zoo name is remembered as zoo:NAME
        model_index.remember(mhash, f"zoo:{zoo_entry.name}" if zoo_entry is not None else ckpt_path)
    return CodingReport(str(out), enc.width, enc.height, len(data), enc.num_bytes,
                        len(data) * 8 / (enc.width * enc.height), seconds, enc.refinement)


def read_container(path: str | Path) -> Container:
    path = Path(path)
    if not path.is_file():
        raise BitstreamError(f"compressed file not found: {path}")
    try:
        return unpack(path.read_bytes())
    except BitstreamError as exc:
        raise BitstreamError(f"{path}: {exc}") from None


def decompress_file(
    src: str | Path, out_image: str | Path, module=None, ckpt: str | Path | None = None
) -> CodingReport:
    """Decode the ``.jnn`` file ``src`` into an image file ``out_image`` (format by extension; written atomically).

    The model is ``module`` (prepared by the caller), else loaded from ``ckpt``, else from the
    checkpoint the local model index recorded when the file was written; a loaded model gets the
    protocol the file was written with (its padding placement byte).
    """
    out_image = Path(out_image)
    _check_output(out_image)
    fmt = image_format(out_image)  # before any decoding: an unusable name fails at once
    c = read_container(src)
    if module is None:
        if ckpt is None:
            ckpt = model_index.lookup(c.model_hash)
        if ckpt is None:
            raise CheckpointError(
                f"{src} was written by model {c.architecture} #{c.model_hash.hex()}, which is not in "
                f"the local model index; pass --ckpt"
            )
        module = load_codec_module(ckpt, protocol_of_placement(c.placement))
    have = model_hash(module.model)
    if module.hparams.architecture != c.architecture or have != c.model_hash:
        raise BitstreamError(
            f"{src} was encoded with {c.architecture} #{c.model_hash.hex()}, but the given model is "
            f"{module.hparams.architecture} #{have.hex()}; decoding with another model would give garbage"
        )
    expected = protocol_of_placement(c.placement).multiple(padding_multiple(module.model))
    if c.pad_multiple != expected:
        raise BitstreamError(f"{src}: padding multiple {c.pad_multiple} does not match the model ({expected})")
    _check_latent_shape(src, c)
    t0 = time.perf_counter()
    try:
        x_hat = decode(module.model, EncodedImage(c.strings, c.shape, c.height, c.width, c.placement, c.pad_multiple))
    except (RuntimeError, ValueError, IndexError, KeyError, TypeError, AssertionError) as exc:
        raise BitstreamError(f"{src}: payload does not decode with this model ({type(exc).__name__})") from None
    seconds = time.perf_counter() - t0
    if tuple(x_hat.shape[-2:]) != (c.height, c.width):
        raise BitstreamError(f"{src}: decoded size {tuple(x_hat.shape[-2:])} != header {c.height}x{c.width}")
    arr = (x_hat[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    buf = io.BytesIO()
    try:
        Image.fromarray(arr).save(buf, format=fmt)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot write {out_image} as {fmt}: {exc}") from None
    _write_output(out_image, buf.getvalue())
    size = Path(src).stat().st_size
    payload = sum(len(s) for s in _leaves(c.strings, (bytes, bytearray)))
    return CodingReport(str(out_image), c.width, c.height, size, payload, size * 8 / (c.width * c.height), seconds)


def _check_latent_shape(src, c: Container) -> None:
    """Refuse a latent shape that cannot belong to the header's image size, before decoding.

    Every latent of every supported model is the padded image downsampled by one power of two
    (16 for ``y``, 64 for ``z``); CompressAI's rANS decoder reads past the end of strings that are
    too short for the shape it is given (a segmentation fault, not an exception).
    """
    m = c.pad_multiple
    hp, wp = -(-c.height // m) * m, -(-c.width // m) * m
    sizes = list(_leaves(c.shape, torch.Size))
    for size in sizes:
        ok = len(size) >= 2 and size[-2] > 0 and size[-1] > 0
        if ok:
            kh, rh = divmod(hp, size[-2])
            kw, rw = divmod(wp, size[-1])
            ok = rh == rw == 0 and kh == kw and kh & (kh - 1) == 0 and kh <= m
        if not ok:
            raise BitstreamError(
                f"{src}: latent shape {list(size)} does not fit a {c.width}x{c.height} image "
                f"padded to multiples of {m}; the file is damaged or was not written by jpegnn"
            )
    if not sizes:
        raise BitstreamError(f"{src}: the header holds no latent shape")


def _leaves(node, leaf_type):
    """The ``leaf_type`` objects in a nest of dicts, lists and tuples (a container's strings or
    latent shapes; checked before the sequence case, as ``torch.Size`` is a tuple)."""
    if isinstance(node, leaf_type):
        yield node
    elif isinstance(node, dict):
        for child in node.values():
            yield from _leaves(child, leaf_type)
    elif isinstance(node, (list, tuple)):
        for child in node:
            yield from _leaves(child, leaf_type)
