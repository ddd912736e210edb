"""Post-decoding enhancement (issue 7): training pairs made by a codec, luma/CTU helpers, filtering.

Usable as ``class_path`` in configs: :class:`JPEGDegradation`, :class:`CheckpointDegradation`.
The network is :class:`jpegnn.models.enhance.RDN`; the training logic
:class:`jpegnn.tasks.EnhancementModule`.
"""

from jpegnn.enhance.apply import enhance_rgb
from jpegnn.enhance.degradations import CheckpointDegradation, Degradation, Degraded, JPEGDegradation
from jpegnn.enhance.luma import apply_by_ctu, random_ctu_crops, replace_luma, rgb_to_y, to_8bit_levels

__all__ = [
    "Degradation", "Degraded", "JPEGDegradation", "CheckpointDegradation", "enhance_rgb",
    "apply_by_ctu", "random_ctu_crops", "replace_luma", "rgb_to_y", "to_8bit_levels",
]
