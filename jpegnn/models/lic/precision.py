"""Entropy models in float32 under mixed precision: only the transforms are autocast.

Under ``bf16-mixed`` (and ``16-mixed``) autocast runs every convolution and matmul in 16 bits, and
CompressAI's entropy models follow: the latents and the Gaussian's means and scales arrive as
bfloat16 tensors (outputs of autocast convolutions), so the uniform noise of training is added in
bfloat16 (8 significant bits: at |y| ~ 20 a noise sample is rounded to a multiple of 1/8), the
Gaussian's ``(±0.5 - |y - mean|) / scale`` and ``erfc`` are evaluated in bfloat16, and the
entropy bottleneck's density network (``softplus(H) @ x``, a matmul) runs in bfloat16 too.
CompressAI's ``LowerBound`` then promotes the likelihoods to float32, which hides that they were
computed in 16 bits. The estimated rate of ``y`` was biased (about -0.2 % in a small check); on
the tiny random-weight models of ``tests/models/test_lic_precision.py`` the estimated bits of a
training forward under bfloat16 autocast differed from float32's by 0.1 % to 1 % (up to 4 % for
some initialisations), and the training gradients through the likelihoods carried the same
rounding. With float32 entropy models what is left (the bfloat16 transforms' means and scales) is
mostly below 0.1 %.

:func:`float32_entropy_models` makes every :class:`compressai.entropy_models.EntropyModel` inside a
network (``EntropyBottleneck``, ``GaussianConditional``, also the ones inside latent codecs:
checkerboard, ELIC's channel groups, the KD students) compute in float32 under autocast: each
instance's class is swapped, in place, for a subclass of its own class (cached, one per CompressAI
class, e.g. ``Float32GaussianConditional``) whose

* ``forward`` (``GaussianConditional.forward(inputs, scales, means)``,
  ``EntropyBottleneck.forward(x)``: the training and validation path),
* ``quantize`` (called directly by mbt2018's forward for the ``y_hat`` of the context model and
  the synthesis),
* ``_likelihood`` and ``_logits_cumulative`` (the density maths; also behind
  ``EntropyBottleneck.loss()``, ``update()`` and the quantile refit)

run with autocast disabled on the inputs' device and their float16/bfloat16 tensor arguments cast
to float32, so their outputs are float32. float32 and float64 inputs are untouched, and without
autocast the results are CompressAI's bit for bit. The transforms (``g_a``, ``g_s``, ``h_a``,
``h_s``, context and entropy-parameter networks) stay autocast: the latents are as precise as the
bfloat16 transforms made them, and only what the entropy models compute from them is float32.

The swap adds no parameters or buffers (state dict keys, shapes and values are unchanged, so
checkpoints load both ways), keeps ``isinstance(m, GaussianConditional)`` true, survives
``copy.deepcopy`` and pickling (``ddp_spawn``: instances pickle as "the float32 subclass of
CompressAI's class", rebuilt on load) and is plain Python for ``torch.compile`` (the autocast block
adds two graph breaks to the ones ``EntropyBottleneck.forward`` already has). It is applied by
:func:`jpegnn.models.lic.build_lic_model` to every network it builds (so :class:`LICModule`,
:class:`DistillationModule` students and teachers loaded from jpegnn checkpoints get it) and by
the KD students' constructors. Applying it twice is a no-op.

What it does not change: CompressAI's checkerboard one-pass forward (``forward_method="onepass"``,
not used by jpegnn) calls ``EntropyModel.quantize(None, y, mode)`` unbound, which no instance can
intercept; the straight-through ``quantize_ste(y - means) + means`` of the checkerboard/ELIC latent
codecs stays in the transforms' dtype, since its result only feeds autocast convolutions (``g_s``,
context models), which cast it to bfloat16 anyway.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from typing import Any, Callable, TypeVar

import torch
from compressai.entropy_models import EntropyModel
from torch import Tensor, nn

__all__ = ["Float32EntropyModel", "float32_entropy_models", "FLOAT32_METHODS"]

#: the methods of an entropy model that run in float32 with autocast disabled (where the class has them)
FLOAT32_METHODS = ("forward", "quantize", "_likelihood", "_logits_cumulative")

_HALF = (torch.float16, torch.bfloat16)
_ModelT = TypeVar("_ModelT", bound=nn.Module)


class Float32EntropyModel:
    """Marker base of the float32 subclasses made by :func:`float32_entropy_models`.

    ``isinstance(m, Float32EntropyModel)`` tells whether an entropy model computes in float32
    under autocast. Instances pickle and deep-copy as "the float32 subclass of their CompressAI
    class", so the subclasses, made at run time, need not be importable by name.
    """

    _float32_base: type

    def __reduce_ex__(self, protocol: int):  # type: ignore[override]
        # object's protocol-2 reduction is (copyreg.__newobj__, (cls,), state, ...): rebuild the
        # class from its CompressAI base instead of looking the run-time class up by name
        _, _, *rest = object.__reduce_ex__(self, 2)
        return (_new_float32_instance, (type(self)._float32_base,), *rest)


def _new_float32_instance(base: type) -> nn.Module:
    cls = _float32_class(base)
    return cls.__new__(cls)


def _upcast(value: Any) -> Any:
    if isinstance(value, Tensor) and value.dtype in _HALF:
        return value.float()
    return value


def _device_type(module: nn.Module, args: tuple, kwargs: dict) -> str:
    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor):
            return value.device.type
    # no tensor argument: the device of the module's own parameters or buffers
    own = next(iter((*module.parameters(recurse=False), *module.buffers(recurse=False))), None)
    return "cpu" if own is None else own.device.type


def _autocast_off(device_type: str):
    # torch.autocast raises for device types without autocast (e.g. "meta")
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return contextlib.nullcontext()


def _float32_method(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def float32_method(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        with _autocast_off(_device_type(self, args, kwargs)):
            return method(self, *(_upcast(a) for a in args), **{k: _upcast(v) for k, v in kwargs.items()})

    return float32_method


_CLASSES: dict[type, type] = {}


def _float32_class(base: type) -> type:
    """The float32 subclass of the entropy-model class ``base`` (made once, then cached)."""
    if issubclass(base, Float32EntropyModel):
        return base
    cls = _CLASSES.get(base)
    if cls is None:
        namespace: dict[str, Any] = {
            "__module__": __name__,
            "__qualname__": f"Float32{base.__qualname__}",
            "__doc__": f"{base.__name__} computing in float32 under autocast (see :mod:`{__name__}`).",
            "_float32_base": base,
        }
        for name in FLOAT32_METHODS:
            # plain instance methods only (a staticmethod/classmethod would get ``self`` wrongly)
            if inspect.isfunction(inspect.getattr_static(base, name, None)):
                namespace[name] = _float32_method(getattr(base, name))
        cls = type(f"Float32{base.__name__}", (Float32EntropyModel, base), namespace)
        _CLASSES[base] = cls
    return cls


def float32_entropy_models(model: _ModelT) -> _ModelT:
    """Make every CompressAI entropy model inside ``model`` compute in float32 under autocast.

    Swaps the class of each :class:`~compressai.entropy_models.EntropyModel` submodule (``model``
    itself included) for its float32 subclass, in place; see the module docstring. Parameters,
    buffers, state dict and module names are unchanged; a second call changes nothing.

    Returns:
        ``model`` itself.
    """
    for module in model.modules():
        if isinstance(module, EntropyModel) and not isinstance(module, Float32EntropyModel):
            module.__class__ = _float32_class(type(module))
    return model
