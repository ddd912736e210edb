"""Tests of jpegnn.data (datasets, DataModule, image reading, downloads)."""
