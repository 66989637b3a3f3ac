"""Obscura: generative models, inpainting and neural rendering on CPU, reproducibly."""

import os
import sys

# MKL (torch's BLAS here) may otherwise run a GEMM on fewer threads than asked when it judges that faster,
# which changes the summation order: a GAN trained beside a busy process drifted from its quiet twin in the
# 4th decimal within 10 steps. MKL reads MKL_DYNAMIC when torch loads it; if torch came first,
# torch.set_num_threads turns MKL's dynamic threading off instead.
os.environ.setdefault("MKL_DYNAMIC", "FALSE")
if "torch" in sys.modules:
    sys.modules["torch"].set_num_threads(sys.modules["torch"].get_num_threads())

__version__ = "0.1.0"
