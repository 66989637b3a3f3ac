"""Obscura: generative models, inpainting and neural rendering on CPU, reproducibly."""

import os

# MKL (torch's BLAS here) may otherwise run a GEMM on fewer threads than asked when it judges that faster,
# which changes the summation order: a GAN trained on a busy machine drifted from its quiet twin in the
# 4th decimal within 10 steps. Set before torch loads MKL; an explicit MKL_DYNAMIC in the environment wins.
os.environ.setdefault("MKL_DYNAMIC", "FALSE")

__version__ = "0.1.0"
