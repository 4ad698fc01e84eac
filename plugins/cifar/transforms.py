"""The standard CIFAR augmentation, batched in torch: random crop with padding, horizontal flip, normalisation."""

from __future__ import annotations

import torch

# Per-channel mean and standard deviation of the CIFAR-100 training images.
MEAN = torch.tensor([0.5071, 0.4865, 0.4409]).view(1, 3, 1, 1)
STD = torch.tensor([0.2673, 0.2564, 0.2762]).view(1, 3, 1, 1)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels to [0, 1]."""
    return images.float().div_(255)


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Each image zero-padded by ``padding`` on every side and cropped back to its size at a random offset."""
    count, channels, height, width = images.shape
    padded = torch.nn.functional.pad(images, (padding, padding, padding, padding))
    top = torch.randint(2 * padding + 1, (count, 1), generator=generator)
    left = torch.randint(2 * padding + 1, (count, 1), generator=generator)
    rows = (top + torch.arange(height)).view(count, 1, height, 1)
    cols = (left + torch.arange(width)).view(count, 1, 1, width)
    index = torch.arange(count).view(count, 1, 1, 1), torch.arange(channels).view(1, channels, 1, 1)
    return padded[index[0], index[1], rows, cols]


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def normalise(images: torch.Tensor) -> torch.Tensor:
    return (images - MEAN) / STD
