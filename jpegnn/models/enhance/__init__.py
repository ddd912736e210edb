"""Post-decoding enhancement networks (issue 7): plain ``nn.Module``s, no Lightning."""

from jpegnn.models.enhance.rdn import RDN, ResidualDenseBlock, rdn_macs, rdn_macs_table

__all__ = ["RDN", "ResidualDenseBlock", "rdn_macs", "rdn_macs_table"]
