"""The generator (message -> image) and the decoder (image -> message) of glyphnet."""

from __future__ import annotations

# torch is imported here, not in the package __init__, so that `zoo list` never loads it:
# these modules are only built when a glyphnet model is.
import torch
from torch import nn

from zoo_glyphnet import levels

LEAK = 0.2


class Binomial3x3(nn.Module):
    """Fixed ``[1, 2, 1] x [1, 2, 1] / 16`` smoothing per channel (replicated borders); no weights."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = (taps[:, None] * taps[None, :] / 16.0).expand(channels, 1, 3, 3).contiguous()
        self.register_buffer("kernel", kernel, persistent=False)  # not a weight: kept out of state_dict
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        return torch.nn.functional.conv2d(x, self.kernel.to(x.dtype), groups=self.channels)


class Generator(nn.Sequential):
    """Message ``(B, msg_size)`` -> image ``(B, channels, S, S)`` in [0, 1].

    A transposed convolution lifts the message to a 4x4 map of ``widths[-1]`` features; each
    following stride-2 transposed convolution doubles the side (BatchNorm + LeakyReLU after every
    hidden layer) down the widths to ``widths[0]``; the last one draws the image, squashed by a
    sigmoid.

    :param widths: features per resolution, finest first (exactly ``levels(image_size)`` of them).
    :param antialias: low-pass the output logits with a fixed 3x3 binomial filter before the
        sigmoid. A stride-2 transposed convolution can draw a pixel-level checkerboard for free;
        behind a blurring channel nothing stops it, and it shows as grey dither. The filter zeroes
        that frequency while the sigmoid keeps the edges crisp. It has no weights.
    :param upsample: draw the logits at ``image_size / 2**upsample`` (the finest ``upsample``
        widths go unused) and enlarge them by fixed bilinear interpolation before the sigmoid. The
        logit field is then smooth at the pixel scale, so the sigmoid turns it into crisp-edged
        strokes and blobs instead of fine stripes. No weights.
    """

    def __init__(self, msg_size: int, image_size: int, channels: int, widths: list[int],
                 antialias: bool = False, upsample: int = 0) -> None:
        w = list(widths)
        if len(w) != levels(image_size):
            raise ValueError(f"image_size {image_size} needs {levels(image_size)} widths, got {w}")
        if not 0 <= upsample < len(w):
            raise ValueError(f"upsample {upsample} must be in 0..{len(w) - 1} for image_size {image_size}")
        w = w[upsample:]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(msg_size, w[-1], 4, 1, 0, bias=False),
            nn.BatchNorm2d(w[-1]),
            nn.LeakyReLU(LEAK, inplace=True),
        ]
        for i in range(len(w) - 1, 0, -1):
            layers += [nn.ConvTranspose2d(w[i], w[i - 1], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(w[i - 1]),
                       nn.LeakyReLU(LEAK, inplace=True)]
        layers += [nn.ConvTranspose2d(w[0], channels, 4, 2, 1)]
        if antialias:
            layers += [Binomial3x3(channels)]
        if upsample:
            layers += [nn.Upsample(scale_factor=2 ** upsample, mode="bilinear", align_corners=False)]
        layers += [nn.Sigmoid()]
        super().__init__(*layers)
        self.msg_size = msg_size

    def forward(self, messages: torch.Tensor) -> torch.Tensor:
        return super().forward(messages.reshape(messages.shape[0], self.msg_size, 1, 1))


class Decoder(nn.Sequential):
    """Image ``(B, channels, S, S)`` -> message ``(B, msg_size)``: the generator's mirror image.

    Stride-2 convolutions (BatchNorm + LeakyReLU) halve the side up the widths to a 4x4 map, which
    a final 4x4 convolution reads out as the message (no activation: messages are unbounded).
    ``head="pool"`` averages the 4x4 map over its positions before a 1x1 readout (global average
    pooling, as noahtren/GlyphNet's decoder): the message can then not be read from fixed slots.
    ``depth`` extra 3x3 stride-1 convolutions (BatchNorm + LeakyReLU) at each resolution above
    4x4 widen the receptive field; the decoder has to undo rotations and perspective, and that
    depth buys much more message accuracy per training step than width does.
    """

    def __init__(self, msg_size: int, image_size: int, channels: int, widths: list[int], depth: int = 0,
                 head: str = "conv") -> None:
        w = list(widths)
        if len(w) != levels(image_size):
            raise ValueError(f"image_size {image_size} needs {levels(image_size)} widths, got {w}")
        layers: list[nn.Module] = [nn.Conv2d(channels, w[0], 4, 2, 1, bias=False),
                                   nn.BatchNorm2d(w[0]),
                                   nn.LeakyReLU(LEAK, inplace=True)]
        for i in range(1, len(w)):
            for _ in range(depth):
                layers += [nn.Conv2d(w[i - 1], w[i - 1], 3, 1, 1, bias=False),
                           nn.BatchNorm2d(w[i - 1]),
                           nn.LeakyReLU(LEAK, inplace=True)]
            layers += [nn.Conv2d(w[i - 1], w[i], 4, 2, 1, bias=False),
                       nn.BatchNorm2d(w[i]),
                       nn.LeakyReLU(LEAK, inplace=True)]
        if head == "pool":  # where a feature is on the 4x4 map no longer matters (as GlyphNet's decoder)
            layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(w[-1], msg_size, 1)]
        else:
            layers += [nn.Conv2d(w[-1], msg_size, 4, 1, 0)]
        super().__init__(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return super().forward(images).flatten(1)


def build_networks(config: dict) -> tuple[Generator, Decoder]:
    """The generator and decoder for a resolved glyphnet config (uses the current torch RNG)."""
    widths = list(config["widths"])[:levels(config["image_size"])]
    args = (config["msg_size"], config["image_size"], config["channels"], widths)
    generator = Generator(*args, antialias=config["antialias"], upsample=config["upsample"])
    return generator, Decoder(*args, depth=config["decoder_depth"], head=config.get("decoder_head", "conv"))
