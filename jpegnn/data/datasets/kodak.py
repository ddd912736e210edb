"""The Kodak Lossless True Color Image Suite: 24 photographs, 768x512 or 512x768 RGB PNGs.

The standard test set of learned image compression (bpp and PSNR are averaged over the 24 images).
Files are ``kodim01.png`` .. ``kodim24.png``; 04, 09, 10, 17, 18 and 19 are portrait (512 wide).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from jpegnn.data.datasets.base import ImageListDataset
from jpegnn.data.download import download_url
from jpegnn.data.io import load_rgb
from jpegnn.errors import DataError

__all__ = ["Kodak"]

log = logging.getLogger(__name__)

NUM_IMAGES = 24

#: SHA-256 of each image's decoded pixels: the ``H x W x 3`` uint8 array (row-major, RGB) as bytes.
#: Computed from the team's copy (/work/shared/datasets/kodak). Pixel hashes, not file hashes,
#: because that copy is a lossless re-encoding, not byte-identical to the files on r0k.us: its
#: kodim01.png is 694,969 bytes where r0k.us serves 736,501 bytes, and its combined SHA-1 does not
#: match :data:`R0K_COMBINED_SHA1`. PNG re-encoding keeps pixels, so these hashes identify the
#: images whatever PNG encoder produced the file.
PIXEL_SHA256: dict[str, str] = {
    "kodim01": "a00210743353594464ac67e680a41710f484444ca5f9dfddeb570de25c428273",
    "kodim02": "ae5a495df4ec40e0941265440ccf98973915b4190ab803e37a23ca93dd43a07e",
    "kodim03": "234e61f585503f2a44400f5561131e8a512ef2c15328cd83d5cdbf10e2616cf2",
    "kodim04": "e88e788fca00e6c723bb66ff45edb8cb56091ee284dcb73e3909834f2c96eeb6",
    "kodim05": "ed3d1ee770909d3b27903b52ce19ee59a9bf24621a7bf1fb57b90677da880cb6",
    "kodim06": "7f45158999fa297d1cfbd292b3e2f3f5b27770701c3473155c211c3f512cc97f",
    "kodim07": "4e3664bf6fe865b49f15f7b554efa7dbecaf73ae0e8699f2e307bf07849f1264",
    "kodim08": "889c3740e4ed54ca53d11ae735a44d15fa24fe312b3bd1609a80618a4092c208",
    "kodim09": "f8453140e63a42301a6dbebb849a3cc40d34e4e59580eb1f372f7f5460df0dbe",
    "kodim10": "fabe11b5c4f028394e093a5b5907e5fabc8072da0d5334fb3a38547a7e1be842",
    "kodim11": "ab4dd9bf8431e717d33892b3ba03c63bfea3c7fa72c2610010de7df3c194c075",
    "kodim12": "f412db2168e599949aac26bd3264f111b23a684f30a21cfd320e9e95bc69bbae",
    "kodim13": "875703d56fb9396f478b5d7d3b18e2b77c17147a685c6dc2567e1c574aaf01e3",
    "kodim14": "2bd5029ee75ac1697542e5b05624e8afe186e3250abd7513d6a806b52084c2f0",
    "kodim15": "b5353e7511277009922ecbdebfc6418fec53aa1b2a08d44fc957a7540825697b",
    "kodim16": "ed21745fd32fce95cc2c6af7fc52b1b15e590c7a14ab18ab34bd65ecaf955ac7",
    "kodim17": "566bc866664e9b06dc86e2654051b454844efe17322dbf7e24156d8243f1943e",
    "kodim18": "3475af71066f3ca8206eb12cfc989ebe9c6e44820a96604e88ae018606e1f7bd",
    "kodim19": "7956408ef24222d37ac53f579bd24d5b2c3557b16c657e8b71c1b6ae9f18de1b",
    "kodim20": "666ce8f2db5566a123bb081e70618f6f4c4253df960f3b41bb9dcc3dd134f3cf",
    "kodim21": "2d6902daf7c4486b7c8c04d834091841a2b38c8f0c81cd7a963a6510b34a2a6a",
    "kodim22": "f430842120c108b67725ada96b8b7b2a914f6a0915eacd5595064c6c1a5d70a0",
    "kodim23": "81992a83592267e69125666f3e3e04c1819529b4c4c1e55fde0a6a741bac4219",
    "kodim24": "e3e3ccc3e795b82a3da66934409dfe98ce0f5aadc6d7767543c506453599bb98",
}

#: SHA-1 over the bytes of kodim01.png .. kodim24.png concatenated in order, as served by r0k.us,
#: recorded by facebookresearch/NeuralCompression (``neuralcompression/data/_kodak.py``). Not
#: recomputed here (no network). A download whose pixels do not match :data:`PIXEL_SHA256` is
#: still accepted when its bytes match this, so a difference between the team's copy and the
#: server never blocks a genuine download.
R0K_COMBINED_SHA1 = "076e2a5fd4515b5fda677f15fe63dd112d266bc5"


def pixel_sha256(path: str | Path) -> str:
    """SHA-256 of an image's decoded 8-bit RGB pixels (``H x W x 3`` bytes), as in PIXEL_SHA256."""
    return hashlib.sha256(load_rgb(path).permute(1, 2, 0).contiguous().numpy().tobytes()).hexdigest()


class Kodak(ImageListDataset):
    """The 24 Kodak images ``kodim01.png`` .. ``kodim24.png`` directly in ``root``.

    Item names are the file stems, ``"kodim01"`` .. ``"kodim24"``, in that order. All 24 files must
    be present; the error lists the missing ones.

    With ``download=True``, missing files are fetched from :attr:`url_template` into ``root``
    (one process per node, in :meth:`prepare_data`) and each downloaded file is verified: its
    decoded pixels must match :data:`PIXEL_SHA256`, or else the 24 files' bytes must match the
    published :data:`R0K_COMBINED_SHA1`; failing files are deleted and a DataError names them.
    Files already present are trusted and not re-verified.

    Args:
        root: Folder holding (or receiving) the 24 PNGs.
        download: Fetch missing images from the public mirror (about 15 MB in all).
    """

    #: Where ``download=True`` fetches ``kodimNN.png`` from (``{index:02d}`` is 1..24).
    url_template = "https://r0k.us/graphics/kodak/kodak/kodim{index:02d}.png"

    def __init__(self, root: str, download: bool = False) -> None:
        super().__init__(root)
        self.download = download

    @staticmethod
    def filenames() -> list[str]:
        """``kodim01.png`` .. ``kodim24.png``."""
        return [f"kodim{i:02d}.png" for i in range(1, NUM_IMAGES + 1)]

    def _missing(self) -> list[str]:
        return [f for f in self.filenames() if not (self.root / f).is_file()]

    def prepare_data(self) -> None:
        """Download and verify the missing images when ``download=True``."""
        if not self.download:
            return
        missing = self._missing()
        if not missing:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        log.info("Kodak: downloading %d images into %s", len(missing), self.root)
        for filename in missing:
            index = int(filename[5:7])
            download_url(self.url_template.format(index=index), self.root / filename)
        bad = [f for f in missing if not self._pixels_match(f)]
        if bad and self._combined_sha1() != R0K_COMBINED_SHA1:
            for f in bad:
                (self.root / f).unlink(missing_ok=True)
            raise DataError(
                f"Kodak: downloaded files do not match the known Kodak images and were deleted: "
                f"{', '.join(bad)} (from {self.url_template.format(index=0).rsplit('/', 1)[0]}/)"
            )

    def _pixels_match(self, filename: str) -> bool:
        """Whether ``root/filename`` decodes to the known pixels (False if it is not an image)."""
        try:
            return pixel_sha256(self.root / filename) == PIXEL_SHA256[filename[:-4]]
        except DataError:  # e.g. an HTML error page served as kodimNN.png
            return False

    def _combined_sha1(self) -> str:
        h = hashlib.sha1()
        for f in self.filenames():
            h.update((self.root / f).read_bytes())
        return h.hexdigest()

    def _list_files(self) -> list[tuple[Path, str]]:
        self._require_dir(self.root, "root folder")
        missing = self._missing()
        if missing:
            hint = "" if self.download else " (pass download=True to fetch them)"
            raise DataError(
                f"Kodak: {len(missing)} of {NUM_IMAGES} images missing in {self.root}: "
                f"{', '.join(missing)}{hint}"
            )
        return [(self.root / f, f[:-4]) for f in self.filenames()]

    def __repr__(self) -> str:
        return f"Kodak(root={str(self.root)!r})"
