"""Building blocks shared by the deep inpainting methods (all fully convolutional)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pyramid_fill(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Push-pull fill: hole pixels get the mask-weighted average of the nearest coarser pyramid level.

    ``image`` (B, C, H, W), ``hole`` (B, 1, H, W) in {0, 1}. Cheap, smooth initialisation that every
    network refines (the nets predict a residual on top of it).
    """
    known = 1.0 - hole
    if bool((known > 0).all()):
        return image
    h, w = image.shape[-2:]
    if h <= 1 or w <= 1:
        mean = (image * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1e-6)
        return image * known + mean * hole
    num = F.avg_pool2d(image * known, 2, ceil_mode=True)
    den = F.avg_pool2d(known, 2, ceil_mode=True)
    coarse = pyramid_fill(num / den.clamp_min(1e-6), (den <= 0).float())
    up = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return image * known + up * hole


def harmonic_smooth(image: torch.Tensor, hole: torch.Tensor, iterations: int) -> torch.Tensor:
    """Jacobi iterations of Laplace's equation inside the hole (known pixels fixed): after the
    push-pull fill this approaches the harmonic solution (see classical/variational.py)."""
    c = image.shape[1]
    kernel = image.new_tensor([[0, 1, 0], [1, 0, 1], [0, 1, 0]]).div(4).view(1, 1, 3, 3).repeat(c, 1, 1, 1)
    for _ in range(iterations):
        avg = F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel, groups=c)
        image = image * (1 - hole) + avg * hole
    return image


class ResBlock(nn.Module):
    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation), nn.LeakyReLU(0.2),
            nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return F.leaky_relu(x + self.body(x), 0.2)


class Generator(nn.Module):
    """U-Net-like encoder-decoder with dilated residual blocks at the bottleneck.

    The body runs at half resolution (strided stem) to keep CPU cost low; a full-resolution head
    sees the upsampled features next to the input itself.
    """

    def __init__(self, in_ch: int, out_ch: int = 3, width: int = 32, depth: int = 2, blocks: int = 3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_ch, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2))
        chans = [width * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 4, stride=2, padding=1), nn.LeakyReLU(0.2))
            for i in range(depth))
        self.mid = nn.Sequential(*[ResBlock(chans[-1], 2 ** (i % 3 + 1)) for i in range(blocks)])
        self.up = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i + 1] + chans[i], chans[i], 3, padding=1), nn.LeakyReLU(0.2))
            for i in reversed(range(depth)))
        self.head = nn.Conv2d(width + in_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.head.weight)  # start as the identity on the initial fill (residual = 0)
        nn.init.zeros_(self.head.bias)
        self.multiple = 2 ** (depth + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (-w) % self.multiple, 0, (-h) % self.multiple), mode="replicate")
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = self.mid(skips.pop())
        for up in self.up:
            skip = skips.pop()
            y = up(torch.cat([F.interpolate(y, size=skip.shape[-2:], mode="nearest"), skip], 1))
        y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat([y, x], 1))[..., :h, :w]


class PatchDiscriminator(nn.Module):
    """PatchGAN critic on (image, hole mask) with spectral normalisation; one logit per patch."""

    def __init__(self, in_ch: int = 4, width: int = 32, layers: int = 3):
        super().__init__()
        sn = nn.utils.spectral_norm
        mods, ch = [], in_ch
        for i in range(layers):
            out = width * 2 ** i
            mods += [sn(nn.Conv2d(ch, out, 4, stride=2 if i < layers - 1 else 1, padding=1)), nn.LeakyReLU(0.2)]
            ch = out
        mods.append(sn(nn.Conv2d(ch, 1, 3, padding=1)))
        self.net = nn.Sequential(*mods)

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image * 2 - 1, hole], 1))
