"""DVC stage ``scenes@NAME``: render a built-in scene or ingest a photo folder into ``data/scenes/NAME``."""

from __future__ import annotations

import sys

from obscura.config import Params
from obscura.errors import ObscuraError
from obscura.rendering.scenes import create_scene
from obscura.tracking import stage_run


def run(params: Params, name: str | None = None) -> dict:
    cfg = params.scenes
    if name is None:
        raise ObscuraError(f"stage scenes needs a scene name; params list: {', '.join([*cfg.builtin, *cfg.photos])}.")
    with stage_run(f"scenes@{name}", {"scenes": cfg}, experiment="reconstruction", seed=params.seed,
                   dataset=name) as tracker:
        metrics = create_scene(name, cfg, seed=params.seed,
                               on_view=lambda i, m: tracker.log_metrics(m, step=i))
        tracker.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        tracker.log_artifact(cfg.output / name / "scene.json")
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
