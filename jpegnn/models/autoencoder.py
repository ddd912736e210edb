"""A plain convolutional autoencoder: the teacher/student pair of the first KD experiment.

The KD logbook started (December 2024) by applying KD "to simple AE" (a teacher AE and a student
AE) before moving to learned codecs; after first training them for denoising, it switched on
18/12/2024 to "reconstruction (instead of denoising) ie: learn identity function". The logbook
does not describe the networks' layers or widths. This pair is our version of that experiment:
fully convolutional (no quantization or entropy model), so any patch whose sides are multiples of
``2**depth`` works:

* encoder: ``depth`` blocks of [3x3 conv stride 2 -> ReLU -> 3x3 conv -> ReLU] widening from N,
  then a 1x1 conv to M latent channels at 1/2**depth of the resolution;
* decoder: the mirror, with 2x nearest upsampling + 3x3 convs, ending in a sigmoid so the
  output lies in [0, 1] like the input.

Teacher and student differ only in N (the hidden width); keep M equal so latent KD terms compare
like with like. Sizes at the defaults (depth 3, M 32): N=64 has about 0.5 M parameters, N=16
about 35 k.
"""

from __future__ import annotations

from torch import Tensor, nn

from jpegnn.errors import ConfigError, check_positive_int

__all__ = ["ConvAutoencoder"]


class ConvAutoencoder(nn.Module):
    """Reconstruction-only autoencoder ``x -> latent (B x M x H/2^d x W/2^d) -> x_hat``.

    Args:
        N: channels of the first encoder block (block k has ``N·2^k`` channels, capped at 4N).
        M: latent channels.
        depth: number of stride-2 stages (the input sides must be multiples of ``2**depth``).
    """

    def __init__(self, N: int = 64, M: int = 32, depth: int = 3):
        super().__init__()
        for name, value in (("N", N), ("M", M), ("depth", depth)):
            check_positive_int("ConvAutoencoder", name, value)
        self.N, self.M, self.depth = N, M, depth
        widths = [min(N * 2**k, 4 * N) for k in range(depth)]
        enc: list[nn.Module] = []
        c_in = 3
        for w in widths:
            enc += [nn.Conv2d(c_in, w, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                    nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True)]
            c_in = w
        enc.append(nn.Conv2d(c_in, M, 1))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(M, widths[-1], 1), nn.ReLU(inplace=True)]
        c_in = widths[-1]
        for w in reversed(widths):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, w, 3, padding=1), nn.ReLU(inplace=True),
                    nn.Conv2d(w, w, 3, padding=1), nn.ReLU(inplace=True)]
            c_in = w
        dec += [nn.Conv2d(c_in, 3, 3, padding=1), nn.Sigmoid()]
        self.decoder = nn.Sequential(*dec)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this many pixels."""
        return 2**self.depth

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """``{"latent": encoder(x), "x_hat": decoder(latent)}``.

        Raises:
            ConfigError: ``x`` is not ``B x 3 x H x W`` with sides multiples of :attr:`multiple`
                (other sides would give an ``x_hat`` larger than ``x``; pad with
                :func:`jpegnn.coding.padding.pad_to_multiple`).
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ConfigError(f"ConvAutoencoder: input must be B x 3 x H x W RGB, got shape {tuple(x.shape)}")
        if x.shape[-2] % self.multiple or x.shape[-1] % self.multiple:
            raise ConfigError(
                f"ConvAutoencoder: input sides must be multiples of {self.multiple} (2**depth) pixels, got "
                f"{x.shape[-2]}x{x.shape[-1]}; pad with jpegnn.coding.padding.pad_to_multiple"
            )
        latent = self.encoder(x)
        return {"latent": latent, "x_hat": self.decoder(latent)}
