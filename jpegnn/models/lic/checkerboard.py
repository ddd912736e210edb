"""Minnen et al. 2018 backbone with He et al. 2021's two-pass checkerboard context.

The analysis/synthesis and hyper transforms are those of CompressAI's
``JointAutoregressiveHierarchicalPriors`` (mbt2018); the serial masked-convolution context is
replaced by CompressAI's :class:`~compressai.latent_codecs.CheckerboardLatentCodec`: anchors are
decoded from the hyperprior alone, then non-anchors with a checkerboard-masked 5x5 context, so
decoding takes two parallel passes instead of one network call per latent position.
"""

from __future__ import annotations

import torch.nn as nn
from compressai.entropy_models import EntropyBottleneck
from compressai.latent_codecs import (
    CheckerboardLatentCodec,
    GaussianConditionalLatentCodec,
    HyperLatentCodec,
    HyperpriorLatentCodec,
)
from compressai.layers import GDN, CheckerboardMaskedConv2d
from compressai.models import SimpleVAECompressionModel
from compressai.models.utils import conv, deconv


class Mbt2018Checkerboard(SimpleVAECompressionModel):
    """mbt2018 transforms + checkerboard context (He et al., CVPR 2021).

    Args:
        N: channels of the hidden layers of the transforms.
        M: channels of the latent ``y``.
    """

    def __init__(self, N: int = 192, M: int = 192, **kwargs):
        super().__init__(**kwargs)
        self.N, self.M = int(N), int(M)
        self.g_a = nn.Sequential(
            conv(3, N, kernel_size=5, stride=2),
            GDN(N),
            conv(N, N, kernel_size=5, stride=2),
            GDN(N),
            conv(N, N, kernel_size=5, stride=2),
            GDN(N),
            conv(N, M, kernel_size=5, stride=2),
        )
        self.g_s = nn.Sequential(
            deconv(M, N, kernel_size=5, stride=2),
            GDN(N, inverse=True),
            deconv(N, N, kernel_size=5, stride=2),
            GDN(N, inverse=True),
            deconv(N, N, kernel_size=5, stride=2),
            GDN(N, inverse=True),
            deconv(N, 3, kernel_size=5, stride=2),
        )
        h_a = nn.Sequential(
            conv(M, N, stride=1, kernel_size=3),
            nn.LeakyReLU(inplace=True),
            conv(N, N, stride=2, kernel_size=5),
            nn.LeakyReLU(inplace=True),
            conv(N, N, stride=2, kernel_size=5),
        )
        h_s = nn.Sequential(
            deconv(N, M, stride=2, kernel_size=5),
            nn.LeakyReLU(inplace=True),
            deconv(M, M * 3 // 2, stride=2, kernel_size=5),
            nn.LeakyReLU(inplace=True),
            conv(M * 3 // 2, M * 2, stride=1, kernel_size=3),
        )
        self.latent_codec = HyperpriorLatentCodec(
            latent_codec={
                "y": CheckerboardLatentCodec(
                    latent_codec={"y": GaussianConditionalLatentCodec(quantizer="ste")},
                    entropy_parameters=nn.Sequential(
                        nn.Conv2d(M * 12 // 3, M * 10 // 3, 1),
                        nn.LeakyReLU(inplace=True),
                        nn.Conv2d(M * 10 // 3, M * 8 // 3, 1),
                        nn.LeakyReLU(inplace=True),
                        nn.Conv2d(M * 8 // 3, M * 6 // 3, 1),
                    ),
                    context_prediction=CheckerboardMaskedConv2d(M, 2 * M, kernel_size=5, stride=1, padding=2),
                ),
                "hyper": HyperLatentCodec(entropy_bottleneck=EntropyBottleneck(N), h_a=h_a, h_s=h_s),
            },
        )

    @property
    def downsampling_factor(self) -> int:
        """Total stride: 16 in ``g_a`` times 4 in ``h_a``."""
        return 2 ** (4 + 2)
