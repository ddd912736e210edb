"""Plain ``nn.Module`` networks (no Lightning): learned codecs, students, filters, task networks."""
