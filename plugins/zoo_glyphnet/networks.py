"""The generator (message -> image) and the decoder (image -> message) of glyphnet."""

from __future__ import annotations

# torch is imported here, not in the package __init__, so that `zoo list` never loads it:
# these modules are only built when a glyphnet model is.
import torch
from torch import nn

from zoo_glyphnet import levels

LEAK = 0.2


class Generator(nn.Sequential):
    """Message ``(B, msg_size)`` -> image ``(B, channels, S, S)`` in [0, 1].

    A transposed convolution lifts the message to a 4x4 map of ``widths[-1]`` features; each
    following stride-2 transposed convolution doubles the side (BatchNorm + LeakyReLU after every
    hidden layer) down the widths to ``widths[0]``; the last one draws the image, squashed by a
    sigmoid.

    :param widths: features per resolution, finest first (exactly ``levels(image_size)`` of them).
    """

    def __init__(self, msg_size: int, image_size: int, channels: int, widths: list[int]) -> None:
        w = list(widths)
        if len(w) != levels(image_size):
            raise ValueError(f"image_size {image_size} needs {levels(image_size)} widths, got {w}")
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(msg_size, w[-1], 4, 1, 0, bias=False),
            nn.BatchNorm2d(w[-1]),
            nn.LeakyReLU(LEAK, inplace=True),
        ]
        for i in range(len(w) - 1, 0, -1):
            layers += [nn.ConvTranspose2d(w[i], w[i - 1], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(w[i - 1]),
                       nn.LeakyReLU(LEAK, inplace=True)]
        layers += [nn.ConvTranspose2d(w[0], channels, 4, 2, 1), nn.Sigmoid()]
        super().__init__(*layers)
        self.msg_size = msg_size

    def forward(self, messages: torch.Tensor) -> torch.Tensor:  # noqa: D102 - see class
        return super().forward(messages.reshape(messages.shape[0], self.msg_size, 1, 1))


class Decoder(nn.Sequential):
    """Image ``(B, channels, S, S)`` -> message ``(B, msg_size)``: the generator's mirror image.

    Stride-2 convolutions (BatchNorm + LeakyReLU) halve the side up the widths to a 4x4 map, which
    a final 4x4 convolution reads out as the message (no activation: messages are unbounded).
    """

    def __init__(self, msg_size: int, image_size: int, channels: int, widths: list[int]) -> None:
        w = list(widths)
        if len(w) != levels(image_size):
            raise ValueError(f"image_size {image_size} needs {levels(image_size)} widths, got {w}")
        layers: list[nn.Module] = [nn.Conv2d(channels, w[0], 4, 2, 1, bias=False),
                                   nn.BatchNorm2d(w[0]),
                                   nn.LeakyReLU(LEAK, inplace=True)]
        for i in range(1, len(w)):
            layers += [nn.Conv2d(w[i - 1], w[i], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(w[i]),
                       nn.LeakyReLU(LEAK, inplace=True)]
        layers += [nn.Conv2d(w[-1], msg_size, 4, 1, 0)]
        super().__init__(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # noqa: D102 - see class
        return super().forward(images).flatten(1)


def build_networks(config: dict) -> tuple[Generator, Decoder]:
    """The generator and decoder for a resolved glyphnet config (uses the current torch RNG)."""
    widths = list(config["widths"])[:levels(config["image_size"])]
    args = (config["msg_size"], config["image_size"], config["channels"], widths)
    return Generator(*args), Decoder(*args)
