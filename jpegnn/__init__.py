"""jpegnn: learned compression research on PyTorch Lightning."""
__version__ = "0.1.0"
