"""A Siamese U-Net for change detection, TorchScript-able, following the model contract.

Input (B, 2C, H, W): the C bands of date 1, then the same C bands of date 2. One encoder
(shared weights) reads each date; at every level the decoder gets both dates' features and
their absolute difference (FC-Siam-conc plus FC-Siam-diff, Daudt et al. 2018), so it sees
both that something changed and in which direction. Output (B, K, H, W) softmax probabilities.
Both dates are standardised with the same per-band ``input_mean`` / ``input_std`` buffers, so
an unchanged surface gives the same features on either date.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from inference.networks.unet import Decoder, Encoder, Norm, pad_to_multiple


class SiameseUNet(nn.Module):
    """``bands`` channels per date, ``classes`` outputs; ``width`` and ``depth`` as UNet."""

    if TYPE_CHECKING:  # buffers (per-channel statistics, input units); TorchScript infers them
        input_mean: torch.Tensor
        input_std: torch.Tensor

    def __init__(
        self,
        bands: int,
        classes: int,
        width: int = 16,
        depth: int = 3,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        if bands < 1 or classes < 2 or width < 1 or depth < 1:
            raise ValueError("need bands >= 1, classes >= 2, width >= 1 and depth >= 1")
        self.bands, self.in_channels, self.classes, self.depth = bands, 2 * bands, classes, depth
        self.multiple = 2**depth  # H and W are padded to a multiple of this
        self.register_buffer("input_mean", torch.zeros(bands))
        self.register_buffer("input_std", torch.ones(bands))
        self.encoder = Encoder(bands, width, depth, norm)
        widths = self.encoder.widths
        self.fuse = nn.Conv2d(3 * widths[depth], widths[depth], 1)
        self.decoder = Decoder(
            widths, [3 * w for w in widths[:depth]], widths[depth], classes, norm
        )

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-band mean and standard deviation over both dates (input units)."""
        self.input_mean.copy_(mean.reshape(-1))
        self.input_std.copy_(std.reshape(-1).clamp_min(1e-6))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W) input: date 1, then date 2")
        b = x.shape[0]
        mean, std = self.input_mean.view(1, -1, 1, 1), self.input_std.view(1, -1, 1, 1)
        # both dates through the encoder as one batch: (2B, C, H, W)
        pair = torch.cat([x[:, : self.bands], x[:, self.bands :]], dim=0)
        pair, h, w = pad_to_multiple((pair - mean) / std, self.multiple)
        skips, bottom = self.encoder(pair)
        fused: list[torch.Tensor] = []
        for s in skips:
            fused.append(torch.cat([s[:b], s[b:], (s[:b] - s[b:]).abs()], dim=1))
        one, two = bottom[:b], bottom[b:]
        bottom = torch.relu(self.fuse(torch.cat([one, two, (one - two).abs()], dim=1)))
        return self.decoder(fused, bottom)[:, :, :h, :w]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)
