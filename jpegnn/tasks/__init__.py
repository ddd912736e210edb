"""LightningModules ("tasks"): training logic only; the networks live in ``jpegnn.models``."""

from jpegnn.tasks.lic import LICModule

__all__ = ["LICModule"]

from jpegnn.tasks.distillation import AutoencoderDistillationModule, DistillationModule  # noqa: E402

__all__ += ["DistillationModule", "AutoencoderDistillationModule"]

from jpegnn.tasks.qtable import QTableClassifier, QTableSegmenter  # noqa: E402  (issue 3: learned JPEG tables)

__all__ += ["QTableClassifier", "QTableSegmenter"]

from jpegnn.tasks.enhancement import EnhancementModule  # noqa: E402  (issue 7: enhancement filter)

__all__ += ["EnhancementModule"]
