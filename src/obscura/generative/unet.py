"""Small UNet predicting the noise ε(x_t, t) for 1- or 3-channel images (or latents) of any size
divisible by ``2 ** (len(channel_mults) − 1)``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from obscura.errors import ObscuraError
from obscura.generative.base import group_norm


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) timesteps, shape (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, tdim: int):
        super().__init__()
        self.norm1, self.conv1 = group_norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(tdim, cout)
        self.norm2, self.conv2 = group_norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).transpose(1, 2).chunk(3, dim=2)
        a = F.scaled_dot_product_attention(q, k, v)
        return x + self.out(a.transpose(1, 2).reshape(n, c, h, w))


class UNet(nn.Module):
    """ε-prediction UNet: one ResBlock per level, skip connections, optional attention at the lowest level.

    ``forward(x, t)`` with ``x`` (N, in_channels, H, W) and ``t`` an int or (N,) tensor of timesteps.
    """

    def __init__(self, in_channels: int, base_channels: int = 32, channel_mults=(1, 2, 2),
                 attention: bool = False, out_channels: int | None = None):
        super().__init__()
        if base_channels % 8 and base_channels > 8:
            raise ObscuraError(f"UNet base_channels should be a multiple of 8, got {base_channels}.")
        self.in_channels = in_channels
        self.levels = len(channel_mults)
        tdim = 4 * base_channels
        self.base_channels = base_channels
        self.time_mlp = nn.Sequential(nn.Linear(base_channels, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.conv_in = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        chans = [base_channels * m for m in channel_mults]
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        ch = base_channels
        for i, c in enumerate(chans):
            self.down.append(ResBlock(ch, c, tdim))
            ch = c
            last = i == len(chans) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid1 = ResBlock(ch, ch, tdim)
        self.mid_attn = SelfAttention(ch) if attention else nn.Identity()
        self.mid2 = ResBlock(ch, ch, tdim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c in reversed(list(enumerate(chans))):
            self.up.append(ResBlock(ch + c, c, tdim))
            ch = c
            self.upsample.append(nn.Identity() if i == 0 else
                                 nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                               nn.Conv2d(c, c, 3, padding=1)))
        self.norm_out = group_norm(ch)
        self.conv_out = nn.Conv2d(ch, out_channels or in_channels, 3, padding=1)

    def check_size(self, h: int, w: int) -> None:
        f = 2 ** (self.levels - 1)
        if h % f or w % f:
            raise ObscuraError(f"UNet with {self.levels} levels needs height and width divisible by {f}, "
                               f"got {h}x{w}.")

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        self.check_size(x.shape[2], x.shape[3])
        if not torch.is_tensor(t) or t.ndim == 0:
            t = torch.full((x.shape[0],), float(t))
        temb = self.time_mlp(timestep_embedding(t, self.base_channels))
        h = self.conv_in(x)
        skips = []
        for block, down in zip(self.down, self.downsample):
            h = block(h, temb)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for block, up in zip(self.up, self.upsample):
            h = up(block(torch.cat([h, skips.pop()], 1), temb))
        return self.conv_out(F.silu(self.norm_out(h)))
