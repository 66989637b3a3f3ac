"""DVC stage ``train_inpainting``: train every deep inpainting method (``inpainting.deep``) on training-photo crops,
``inpainting.train_workers`` of them side by side.

Each method gets its MLflow run ``train_inpainting/<method>/photos`` and registered model, its checkpoint
``<models_dir>/<method>`` and its loss curve ``<reports>/train/<method>.csv``; ``<reports>/train.json`` holds every
method's summary once all have finished. Re-running after an interruption resumes each method from
``data/inpainting/.state/<method>.pt`` when its params are unchanged.
"""

from __future__ import annotations

import queue
import sys

from obscura.config import Params
from obscura.inpainting.deep.fit import fit
from obscura.io import write_json
from obscura.tracking import ensure_experiment, model_name, stage_run
from obscura.workers import WorkerPool, set_threads, share

_WORKER: dict = {}


def _start_worker(progress) -> None:
    """Keep the queue this worker reports its steps to (the parent draws the progress bars)."""
    _WORKER["progress"] = progress


def cost(section) -> int:
    """Pixels a training pushes through its network: the longest go first, so no worker idles at the end."""
    return section.steps * section.batch_size * section.crop ** 2


def train_method(params: Params, method: str, progress=None) -> tuple[str, dict]:
    """Train ``method`` in its own MLflow run and register its checkpoint; returns (method, metrics). With a
    ``progress`` queue, (method, step) goes there every logged window instead of to a progress bar."""
    cfg = params.inpainting
    with stage_run("train_inpainting", {f"inpainting.deep.{method}": cfg.deep.get(method),
                                        "inpainting.kinds": cfg.kinds, "inpainting.buckets": cfg.buckets},
                   experiment="inpainting", seed=params.seed, method=method, dataset="photos") as tracker:
        def log(logs: dict, step: int) -> None:
            tracker.log_metrics(logs, step=step)
            if progress is not None:
                progress.put((method, step))

        metrics = fit(method, cfg, params.prepare.output, params.seed, log=log, progress=progress is None)
        tracker.log_metrics(metrics)
        tracker.register_model(model_name("inpainting", method), cfg.models_dir / method)
    return method, metrics


def _train_task(args: tuple[Params, str]) -> tuple[str, dict]:
    return train_method(*args, progress=_WORKER["progress"])


def _side_by_side(params: Params, order: list[str], processes: int, threads: int) -> dict[str, dict]:
    """Train ``order`` in ``processes`` workers; one progress bar per method here; a worker's error, or its death,
    is raised as soon as it happens (leaving the pool stops the other trainings; their resumable state stays on
    disk)."""
    import multiprocessing as mp

    from tqdm import tqdm

    steps = mp.get_context("spawn").Queue()
    bars = {m: tqdm(total=params.inpainting.deep[m].steps, desc=f"train {m}", unit="step", position=i)
            for i, m in enumerate(order)}
    try:
        with WorkerPool(processes, _start_worker, (steps,), threads=threads) as running:
            pending = [running.apply_async(_train_task, ((params, m),)) for m in order]
            while True:
                running.check()
                for result in pending:
                    if result.ready() and not result.successful():
                        result.get()                                    # raises the worker's error
                if all(result.ready() for result in pending):
                    return dict(result.get() for result in pending)
                try:
                    method, step = steps.get(timeout=0.5)
                    bars[method].update(step - bars[method].n)
                except queue.Empty:
                    pass
    finally:
        for bar in bars.values():
            bar.close()


def run(params: Params) -> dict:
    cfg = params.inpainting
    order = sorted(cfg.deep, key=lambda m: -cost(cfg.deep[m]))
    threads = share(cfg.train_workers)
    processes = min(cfg.train_workers, len(order))
    if processes > 1:
        ensure_experiment("inpainting")        # created here, not raced for by the workers
        done = _side_by_side(params, order, processes, threads)
    else:
        set_threads(threads)
        done = dict(train_method(params, m) for m in order)
    metrics = {m: done[m] for m in cfg.deep}
    write_json(cfg.reports / "train.json", metrics)
    return metrics


if __name__ == "__main__":
    from stages._entry import main

    sys.exit(main(run))
