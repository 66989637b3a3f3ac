"""DVC stage ``train_inpainting``: train every deep inpainting method (``inpainting.deep``) on training-photo crops,
``inpainting.train_workers`` of them side by side.

Each method gets its MLflow run ``train_inpainting/<method>/photos`` and registered model, its checkpoint
``<models_dir>/<method>`` and its loss curve ``<reports>/train/<method>.csv``; ``<reports>/train.json`` holds every
method's summary once all have finished. Re-running after an interruption resumes each method from
``data/inpainting/.state/<method>.pt`` when its params are unchanged.
"""

from __future__ import annotations

import os
import sys

from obscura.config import Params
from obscura.inpainting.deep.fit import fit
from obscura.io import write_json
from obscura.tracking import ensure_experiment, model_name, stage_run
from obscura.workers import pool, set_threads, share

def _start_worker(counter, lock) -> None:
    """Give this worker's progress bars their own line (tqdm reads ``TQDM_POSITION``) and a lock they share with the
    other workers'."""
    from tqdm import tqdm

    tqdm.set_lock(lock)
    with counter.get_lock():
        os.environ["TQDM_POSITION"] = str(counter.value)
        counter.value += 1


def cost(section) -> int:
    """Pixels a training pushes through its network: the longest go first, so no worker idles at the end."""
    return section.steps * section.batch_size * section.crop ** 2


def train_method(params: Params, method: str) -> tuple[str, dict]:
    """Train ``method`` in its own MLflow run and register its checkpoint; returns (method, metrics)."""
    cfg = params.inpainting
    with stage_run("train_inpainting", {f"inpainting.deep.{method}": cfg.deep.get(method),
                                        "inpainting.kinds": cfg.kinds, "inpainting.buckets": cfg.buckets},
                   experiment="inpainting", seed=params.seed, method=method, dataset="photos") as tracker:
        metrics = fit(method, cfg, params.prepare.output, params.seed,
                      log=lambda logs, step: tracker.log_metrics(logs, step=step))
        tracker.log_metrics(metrics)
        tracker.register_model(model_name("inpainting", method), cfg.models_dir / method)
    return method, metrics


def run(params: Params) -> dict:
    cfg = params.inpainting
    order = sorted(cfg.deep, key=lambda m: -cost(cfg.deep[m]))
    threads = share(cfg.train_workers)
    processes = min(cfg.train_workers, len(order))
    if processes > 1:
        import multiprocessing as mp

        ensure_experiment("inpainting")        # created here, not raced for by the workers
        ctx = mp.get_context("spawn")
        with pool(processes, _start_worker, (ctx.Value("i", 0), ctx.RLock()), threads=threads) as running:
            done = dict(running.imap_unordered(_train_task, [(params, m) for m in order]))
    else:
        set_threads(threads)
        done = dict(train_method(params, m) for m in order)
    metrics = {m: done[m] for m in cfg.deep}
    write_json(cfg.reports / "train.json", metrics)
    return metrics


def _train_task(args: tuple[Params, str]) -> tuple[str, dict]:
    return train_method(*args)


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
