"""Obscura: generative models, inpainting and neural rendering on CPU, reproducibly."""

__version__ = "0.1.0"
