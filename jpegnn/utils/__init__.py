"""Small helpers shared across jpegnn (atomic file writes, ...)."""
