"""Push-pull (pyramid) fill: each hole pixel takes the mask-weighted average of the nearest coarser
level that has data there. It is the start of the deep methods' initial fill (``harmonic_fill``, which
smooths every level of it towards the harmonic solution); scored as a cheap baseline."""

from __future__ import annotations

import numpy as np

from obscura.inpainting.inputs import check_inputs, composite


def push_pull(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import torch

    from obscura.inpainting.deep.nets import pyramid_fill

    image, mask = check_inputs(image, mask)
    x = torch.from_numpy(image.transpose(2, 0, 1)[None].copy())
    m = torch.from_numpy(mask[None, None].astype(np.float32))
    return composite(pyramid_fill(x * (1 - m), m)[0].numpy().transpose(1, 2, 0), image, mask)
