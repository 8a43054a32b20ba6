"""Trainable networks (plain PyTorch): a small U-Net for segmentation and a Siamese U-Net for
change detection. Both follow the model contract in inference/models/base.py and compile with
``torch.jit.script``."""

from __future__ import annotations

from inference.networks.siamese_unet import SiameseUNet
from inference.networks.unet import UNet

__all__ = ["SiameseUNet", "UNet"]
