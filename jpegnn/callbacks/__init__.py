"""Lightning callbacks for cross-cutting measurement, usable with any LightningModule.

Switch them on from YAML under ``trainer.callbacks`` (``configs/profile/callbacks.yaml`` lists
all four) or pass them to ``Trainer(callbacks=[...])``:

* :class:`ComplexityCallback`: parameters and fvcore MACs (encoder/decoder), ``complexity.json``;
* :class:`LatencyCallback`: sampled forward/backward/step time, encode/decode latency;
* :class:`MemoryCallback`: parameter storage, peak (activation) memory;
* :class:`EnergyCallback`: NVML GPU energy per epoch, per test image, per decoded frame;
* :class:`LearningRateDrop`: step drops of the network lr, resume-safe (a training aid, not a measurement).

The measurement code itself lives in :mod:`jpegnn.profiling`.
"""

from jpegnn.callbacks.complexity import ComplexityCallback
from jpegnn.callbacks.energy import EnergyCallback
from jpegnn.callbacks.latency import LatencyCallback
from jpegnn.callbacks.lr_drop import LearningRateDrop
from jpegnn.callbacks.memory import MemoryCallback

__all__ = ["ComplexityCallback", "EnergyCallback", "LatencyCallback", "LearningRateDrop", "MemoryCallback"]
