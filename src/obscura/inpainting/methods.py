"""One calling convention for every method: ``fn(image HxWx3 float, mask HxW bool) -> image``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from obscura.errors import ObscuraError
from obscura.inpainting.classical import CLASSICAL
from obscura.inpainting.inputs import check_inputs, composite

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


class _Forward:
    """``fn(image, mask)`` running ``model.<attr>`` on the tensors; picklable, so evaluation workers can take it."""

    def __init__(self, model, attr: str):
        self.model, self.attr = model, attr

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        image, mask = check_inputs(image, mask)
        x = torch.from_numpy(image.transpose(2, 0, 1)[None].copy())
        m = torch.from_numpy(mask[None, None].astype(np.float32))
        with torch.no_grad():
            out = getattr(self.model.eval(), self.attr)(x, m)[0].numpy().transpose(1, 2, 0)
        return composite(out, image, mask)


def deep_method(model) -> Method:
    """Wrap a trained deep inpainting model as a numpy method; its ``initial_fill`` attribute is the same kind
    of method giving the fill the model starts from (``model.prepare``), to measure what training adds."""
    run = _Forward(model, "__call__")
    run.initial_fill = _Forward(model, "prepare")
    return run


def get_method(name: str, models_dir: str | Path | None = None, criminisi_patch: int = 9) -> Method:
    """A classical method by name, or a deep one loaded from ``models_dir/<name>``."""
    if name in CLASSICAL:
        fn = CLASSICAL[name]
        if name in ("criminisi", "hybrid"):
            return partial(fn, patch_size=criminisi_patch)
        return fn
    from obscura.inpainting.deep.registry import METHODS, load_checkpoint

    if name not in METHODS:
        raise ObscuraError(f"unknown inpainting method {name!r}; classical: {', '.join(CLASSICAL)}; "
                           f"deep: {', '.join(METHODS)}.")
    if models_dir is None:
        raise ObscuraError(f"deep method {name!r} needs trained weights; pass the models directory "
                           "(train with `dvc repro train_inpainting`).")
    _, model = load_checkpoint(Path(models_dir) / name)
    return deep_method(model)
