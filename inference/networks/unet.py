"""A small U-Net for per-pixel classification, TorchScript-able, following the model contract.

Input (B, C, H, W) float32 (reflectance 0..1 for optical); output (B, K, H, W) softmax
probabilities. Inputs are standardised inside the network with per-channel ``input_mean`` /
``input_std`` buffers (set from the training sample), so the saved file needs no side car.
H and W need not be multiples of 2**depth: the input is mirrored up to the next multiple and
the output cropped back.

BatchNorm (the default) is a per-channel affine map at inference, so a pixel's output depends
only on its receptive field and overlapping chips agree; GroupNorm normalises over each chip
and suits tiny training batches, at the price of chip-dependent outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import nn
from torch.nn.functional import max_pool2d, pad

Norm = Literal["batch", "group"]


def norm_layer(kind: str, channels: int) -> nn.Module:
    """BatchNorm2d, or GroupNorm with up to 8 groups of at least 4 channels."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        groups = max(1, min(8, channels // 4))
        while channels % groups:
            groups -= 1
        return nn.GroupNorm(groups, channels)
    raise ValueError(f"norm must be 'batch' or 'group', not {kind!r}")


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by normalisation and ReLU."""

    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            norm_layer(norm, cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            norm_layer(norm, cout),
            nn.ReLU(inplace=True),
        )


class Encoder(nn.Module):
    """``depth`` poolings; returns the skip features (full to 1/2**(depth-1) resolution) and
    the bottleneck (1/2**depth). Widths double per level from ``width``."""

    def __init__(self, cin: int, width: int, depth: int, norm: str) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]
        self.widths = widths
        self.blocks = nn.ModuleList(
            [ConvBlock(cin if i == 0 else widths[i - 1], widths[i], norm) for i in range(depth)]
        )
        self.bottleneck = ConvBlock(widths[depth - 1], widths[depth], norm)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        skips: list[torch.Tensor] = []
        for block in self.blocks:
            x = block(x)
            skips.append(x)
            x = max_pool2d(x, 2)
        return skips, self.bottleneck(x)


class Decoder(nn.Module):
    """Upsampling path: at each level a 2x transposed convolution, the skip features
    concatenated (``skip_channels[i]`` channels at level i), a ConvBlock; then a 1x1 head."""

    def __init__(
        self, widths: list[int], skip_channels: list[int], bottom: int, classes: int, norm: str
    ) -> None:
        super().__init__()
        depth = len(skip_channels)
        ups, blocks = [], []
        cin = bottom
        for i in reversed(range(depth)):
            ups.append(nn.ConvTranspose2d(cin, widths[i], 2, stride=2))
            blocks.append(ConvBlock(widths[i] + skip_channels[i], widths[i], norm))
            cin = widths[i]
        self.ups = nn.ModuleList(ups)
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, skips: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        depth = len(skips)
        for i, (up, block) in enumerate(zip(self.ups, self.blocks, strict=True)):
            x = block(torch.cat([up(x), skips[depth - 1 - i]], dim=1))
        return self.head(x)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    """Mirror-pad H and W (bottom/right) up to a multiple; returns the tensor and the original
    size. Falls back to replicate padding for inputs too small to mirror."""
    h, w = x.shape[-2], x.shape[-1]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = pad(x, [0, pw, 0, ph], mode=mode)
    return x, h, w


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015), small: ``width`` channels at full resolution doubling
    per level, ``depth`` poolings. ``forward`` returns class probabilities (softmax over K);
    ``logits`` the raw scores used for training."""

    if TYPE_CHECKING:  # buffers (per-channel statistics, input units); TorchScript infers them
        input_mean: torch.Tensor
        input_std: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        classes: int,
        width: int = 16,
        depth: int = 3,
        norm: Norm = "batch",
    ) -> None:
        super().__init__()
        if in_channels < 1 or classes < 2 or width < 1 or depth < 1:
            raise ValueError("need in_channels >= 1, classes >= 2, width >= 1 and depth >= 1")
        self.in_channels, self.classes, self.depth = in_channels, classes, depth
        self.multiple = 2**depth  # H and W are padded to a multiple of this
        self.register_buffer("input_mean", torch.zeros(in_channels))
        self.register_buffer("input_std", torch.ones(in_channels))
        self.encoder = Encoder(in_channels, width, depth, norm)
        widths = self.encoder.widths
        self.decoder = Decoder(widths, widths[:depth], widths[depth], classes, norm)

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-channel mean and standard deviation of the training inputs (input units)."""
        self.input_mean.copy_(mean.reshape(-1))
        self.input_std.copy_(std.reshape(-1).clamp_min(1e-6))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W) input")
        x = (x - self.input_mean.view(1, -1, 1, 1)) / self.input_std.view(1, -1, 1, 1)
        x, h, w = pad_to_multiple(x, self.multiple)
        skips, bottom = self.encoder(x)
        return self.decoder(skips, bottom)[:, :, :h, :w]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)
