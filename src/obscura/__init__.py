"""Obscura: generative models, inpainting and neural rendering on CPU, reproducibly."""

import os
import sys

# MKL (torch's BLAS here) may otherwise run a GEMM on fewer threads than asked when it judges that faster,
# which changes the summation order: a GAN trained beside a busy process drifted from its quiet twin in the
# 4th decimal within 10 steps. MKL reads MKL_DYNAMIC when torch loads it; if torch came first,
# torch.set_num_threads turns MKL's dynamic threading off instead.
os.environ.setdefault("MKL_DYNAMIC", "FALSE")
# After each parallel region torch's OpenMP (libgomp) worker spins GOMP_SPINCOUNT times (300,000 by default,
# ~4 ms of CPU here) before it sleeps. The 3DGS and NeRF kernels run on numba's own threads right after torch
# ops, so the spinning worker takes one of the two cores: a 3DGS forward + backward at 480x360/20k took 9-13 ms
# longer than its kernels alone, 5 ms with 20,000 spins; 3DGS training steps 7-9 % faster. Read when torch loads.
os.environ.setdefault("GOMP_SPINCOUNT", "20000")
if "torch" in sys.modules:
    sys.modules["torch"].set_num_threads(sys.modules["torch"].get_num_threads())

__version__ = "0.1.0"
