"""A few natural photographs bundled with scikit-image: a test set that needs no download.

scikit-image (a jpegnn dependency) ships these files inside its wheel (``skimage/data/``); they
are read directly from there, never through ``skimage.data``'s pooch fetcher, so this works
offline. Used by ``jpegnn.demo`` and as the default test set of quick runs. The images are small
and few, so their rate-distortion numbers are for smoke tests, not for papers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional, Sequence

from jpegnn.data.datasets.base import ImageListDataset
from jpegnn.errors import ConfigError, DataError

__all__ = ["BuiltinSamples", "SAMPLE_FILES", "DEFAULT_SAMPLES"]

#: name -> file in ``skimage/data`` (size W x H; all 8-bit RGB).
SAMPLE_FILES: dict[str, str] = {
    "astronaut": "astronaut.png",  # 512 x 512, NASA portrait of Eileen Collins
    "coffee": "coffee.png",  # 600 x 400, cup of coffee (Rachel Michetti)
    "chelsea": "chelsea.png",  # 451 x 300, Chelsea the cat
    "rocket": "rocket.jpg",  # 640 x 427, SpaceX launch; a JPEG, so it carries 8x8 block artefacts
    "motorcycle_left": "motorcycle_left.png",  # 741 x 500, left view of the Middlebury stereo pair
    "motorcycle_right": "motorcycle_right.png",  # 741 x 500, right view (near-duplicate of left)
    "hubble_deep_field": "hubble_deep_field.jpg",  # 1000 x 872, mostly black sky; a JPEG
}

#: The default selection: five distinct natural photographs (one per scene).
DEFAULT_SAMPLES: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left")


def skimage_data_dir() -> Path:
    """The ``skimage/data`` folder of the installed scikit-image (located without importing it)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("BuiltinSamples: scikit-image is not installed (pip install scikit-image)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


class BuiltinSamples(ImageListDataset):
    """Natural photographs shipped inside scikit-image, named by their skimage name.

    Item names are the sample names (``"astronaut"``, ...), in the order given.
    Sizes differ (300 to 872 px high); none is a multiple of 64 in both sides, which exercises
    the padding of codecs.

    Args:
        names: Which samples, from :data:`SAMPLE_FILES`; None uses :data:`DEFAULT_SAMPLES`
            (astronaut, coffee, chelsea, rocket, motorcycle_left).
    """

    def __init__(self, names: Optional[Sequence[str]] = None) -> None:
        try:
            root = skimage_data_dir()
        except DataError:  # reported when the dataset is first used, like a missing root
            root = Path("skimage/data")
        super().__init__(root)
        chosen = tuple(DEFAULT_SAMPLES if names is None else ([names] if isinstance(names, str) else names))
        unknown = [n for n in chosen if n not in SAMPLE_FILES]
        if unknown or not chosen:
            raise ConfigError(
                f"BuiltinSamples: unknown sample name(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
                f"available: {', '.join(SAMPLE_FILES)}"
            )
        if len(set(chosen)) != len(chosen):
            raise ConfigError(f"BuiltinSamples: argument 'names' repeats a sample: {list(chosen)}")
        self.sample_names = chosen

    def _list_files(self) -> list[tuple[Path, str]]:
        folder = skimage_data_dir()
        files = [(folder / SAMPLE_FILES[n], n) for n in self.sample_names]
        missing = [str(p) for p, _ in files if not p.is_file()]
        if missing:
            raise DataError(f"BuiltinSamples: scikit-image data file(s) missing: {', '.join(missing)}")
        return files

    def __repr__(self) -> str:
        return f"BuiltinSamples(names={list(self.sample_names)!r})"
