"""Real entropy coding with trained learned codecs: padding, encode/decode, per-image evaluation."""

from jpegnn.coding.lic import EncodedImage, decode, encode, evaluate_image, string_bytes
from jpegnn.coding.padding import crop_to, pad_to_multiple

__all__ = ["EncodedImage", "crop_to", "decode", "encode", "evaluate_image", "pad_to_multiple", "string_bytes"]
