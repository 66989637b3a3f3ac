"""Speed of the compiled gaussian rasterizer (forward + backward) against the dense PyTorch reference.
Prints one JSON object.

Targets: <= 8 ns per (pixel x contributing gaussian) pair for forward + backward on 2 threads, and >= 30x the
dense reference per pair.

    python bench/gaussians_kernels.py              # 256x256/20k, 480x360/20k and 480x360/100k gaussians
    python bench/gaussians_kernels.py --repeat 10

Scenes are random screen-space gaussians (float32): means uniform over the image plus a margin, standard
deviations 1-7 px (radii 4 to ~22 px), aspect ratio 1-3, opacities 0.05-0.95. Times are medians after a
numba warm-up: "fwd_bwd_s" is one rasterize + loss.backward() through autograd (binning included),
"breakdown_s" times binning, packing, rasterize_forward and rasterize_backward alone. "pairs" counts (pixel,
contributing gaussian) pairs; "cpu_ns_per_pair" is process CPU time (all threads) per pair, and
"kernels_1thread_cpu_ns_per_pair" the fastest forward + backward kernel CPU time on one numba thread (the
kernels' efficiency, little affected by other jobs; half of it is the ideal 2-thread wall time).

Other jobs on the machine inflate wall times: the 1-minute load average is reported. NUMBA_THREADING_LAYER
picks numba's threading layer (default: omp when TBB is absent). Under omp, numba's worker threads spin-wait
after each parallel region (libgomp's default), which on a loaded 2-core machine starves the Python thread's
torch work between kernels; NUMBA_THREADING_LAYER=workqueue or OMP_WAIT_POLICY=PASSIVE avoid it.
Torch's own OpenMP worker spins likewise after each torch op and slows the kernels that follow; importing
obscura first sets GOMP_SPINCOUNT=20000 (libgomp's default is 300,000; set it to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import obscura  # noqa: F401  (first: sets torch's OpenMP spin count before torch loads)
import numpy as np
import torch

from obscura.rendering.gaussians import bin_gaussians, rasterize, rasterize_dense
from obscura.rendering.gaussians.rasterize import pack, rasterize_backward, rasterize_forward

TARGETS = {"ns_per_pair": 8.0, "speedup_per_pair": 30.0}
CASES = ((256, 256, 20_000), (480, 360, 20_000), (480, 360, 100_000))
DENSE_CASE = (64, 64, 1_250)  # the 256x256/20k density on a grid the dense reference fits in memory


def random_scene(n: int, width: int, height: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g, dtype=torch.float64)

    margin = 10.0
    means = rand(n, 2) * torch.tensor([width + 2 * margin, height + 2 * margin]) - margin
    sigma = torch.exp(rand(n) * np.log(7.0))
    scales = torch.stack([sigma, sigma / (1 + 2 * rand(n))], -1)
    th = rand(n) * torch.pi
    rot = torch.stack([torch.cos(th), -torch.sin(th), torch.sin(th), torch.cos(th)], -1).reshape(n, 2, 2)
    cov = rot @ torch.diag_embed(scales**2) @ rot.transpose(1, 2) + 0.3 * torch.eye(2)
    inv = torch.linalg.inv(cov)
    radii = torch.ceil(3 * torch.linalg.eigvalsh(cov)[:, -1].sqrt()).int()
    f32 = torch.float32
    return {"means2d": means.to(f32), "conics": torch.stack([inv[:, 0, 0], inv[:, 0, 1], inv[:, 1, 1]], -1).to(f32),
            "colors": rand(n, 3).to(f32), "opacities": (0.05 + 0.9 * rand(n)).to(f32),
            "depths": (1 + 20 * rand(n)).to(f32), "radii": radii}


def fwd_bwd(fn, scene: dict, width: int, height: int, weights) -> None:
    params = {k: v.clone().requires_grad_() for k, v in scene.items() if k != "radii"}
    background = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
    image, depth, alpha = fn(**params, radii=scene["radii"], width=width, height=height, background=background)
    loss = (image * weights[0]).sum() + (depth * weights[1]).sum() + (alpha * weights[2]).sum()
    loss.backward()


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall seconds and median process CPU seconds (all threads) of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def loss_weights(width: int, height: int):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(height, width, 3, generator=g), torch.randn(height, width, generator=g) * 0.01,
            torch.randn(height, width, generator=g))


def breakdown(scene: dict, width: int, height: int, weights, repeat: int) -> dict:
    import numba

    s = {k: v.numpy() for k, v in scene.items()}
    args = (s["means2d"], s["conics"], s["colors"], s["opacities"], s["depths"], np.array([0.1, 0.2, 0.3]))
    packed = pack(*args)
    bins = bin_gaussians(s["means2d"], s["radii"], s["depths"], width, height, footprints=packed.footprints)
    out = rasterize_forward(bins, packed, width, height)
    grads = [w.numpy() for w in weights]

    def kernels():
        rasterize_forward(bins, packed, width, height)
        rasterize_backward(bins, packed, out, *grads)

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    one_thread_cpu = min(timed(kernels, 1)[1] for _ in range(repeat))
    numba.set_num_threads(threads)
    return {
        "binning_s": timed(lambda: bin_gaussians(s["means2d"], s["radii"], s["depths"], width, height,
                                                 footprints=packed.footprints), repeat)[0],
        "pack_s": timed(lambda: pack(*args), repeat)[0],
        "forward_s": timed(lambda: rasterize_forward(bins, packed, width, height), repeat)[0],
        "backward_s": timed(lambda: rasterize_backward(bins, packed, out, *grads), repeat)[0],
        "kernels_1thread_cpu_s": one_thread_cpu,
        "tile_pairs": len(bins.gaussian_ids),
        "pairs": out.n_pairs,
    }


def measure_case(width: int, height: int, n: int, repeat: int) -> dict:
    scene, weights = random_scene(n, width, height), loss_weights(width, height)
    wall, cpu = timed(lambda: fwd_bwd(rasterize, scene, width, height, weights), repeat)
    parts = breakdown(scene, width, height, weights, repeat)
    return {"fwd_bwd_s": round(wall, 5), "pairs": parts["pairs"],
            "pairs_per_pixel": round(parts["pairs"] / (width * height), 1),
            "ns_per_pair": round(wall / parts["pairs"] * 1e9, 2),
            "cpu_ns_per_pair": round(cpu / parts["pairs"] * 1e9, 2),
            "kernels_1thread_cpu_ns_per_pair": round(parts["kernels_1thread_cpu_s"] / parts["pairs"] * 1e9, 2),
            "breakdown_s": {k: round(parts[k], 5) for k in ("binning_s", "pack_s", "forward_s", "backward_s")},
            "tile_pairs": parts["tile_pairs"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import numba

    warm = random_scene(200, 48, 40)
    fwd_bwd(rasterize, warm, 48, 40, loss_weights(48, 40))  # numba compile (or cache load)
    result = {"machine_cpus": os.cpu_count(), "numba_threads": numba.get_num_threads(),
              "numba_threading_layer": numba.threading_layer(), "numba": numba.__version__, "cases": {}}
    for width, height, n in CASES:
        result["cases"][f"{width}x{height}_{n // 1000}k"] = measure_case(width, height, n, args.repeat)

    # the dense reference gets as many torch threads as numba has
    width, height, n = DENSE_CASE
    scene, weights = random_scene(n, width, height, seed=2), loss_weights(width, height)
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(numba.get_num_threads())
    dense_s = timed(lambda: fwd_bwd(rasterize_dense, scene, width, height, weights), max(2, args.repeat // 2))[0]
    torch.set_num_threads(torch_threads)
    compiled_s = timed(lambda: fwd_bwd(rasterize, scene, width, height, weights), args.repeat)[0]
    pairs = breakdown(scene, width, height, weights, 1)["pairs"]
    main_case = result["cases"]["480x360_20k"]
    dense_ns = dense_s / pairs * 1e9
    result["dense_reference"] = {
        "case": f"{width}x{height}_{n}", "torch_threads": numba.get_num_threads(), "pairs": pairs,
        "fwd_bwd_s": round(dense_s, 5), "ns_per_pair": round(dense_ns, 2), "compiled_fwd_bwd_s": round(compiled_s, 5),
        "speedup_same_scene": round(dense_s / compiled_s, 1),
        "speedup_per_pair_vs_480x360_20k": round(dense_ns / main_case["ns_per_pair"], 1)}
    result["targets"] = TARGETS
    result["meets_targets"] = {
        "ns_per_pair": all(c["ns_per_pair"] <= TARGETS["ns_per_pair"] for c in result["cases"].values()),
        "speedup_per_pair": result["dense_reference"]["speedup_per_pair_vs_480x360_20k"]
        >= TARGETS["speedup_per_pair"]}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
