"""Evaluation: real-bitstream results, their file formats, classical codecs and RD benchmarks."""
