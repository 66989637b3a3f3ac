"""Importing obscura turns MKL's load-dependent thread choice off (whether torch was imported before or after) and
shortens the spinning of torch's OpenMP worker (when imported before torch)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("imports", ["obscura, torch", "torch, obscura"])
def test_mkl_dynamic_threading_is_off_after_importing_obscura(imports):
    env = {k: v for k, v in os.environ.items() if k != "MKL_DYNAMIC"} | {"MKL_VERBOSE": "1"}
    code = f"import {imports}; a = torch.ones(64, 64); a @ a"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "Dyn:0" in out and "Dyn:1" not in out


def test_without_obscura_mkl_would_choose_threads_dynamically():
    """The control: what the test above guards against is MKL's default."""
    env = {k: v for k, v in os.environ.items() if k != "MKL_DYNAMIC"} | {"MKL_VERBOSE": "1"}
    out = subprocess.run([sys.executable, "-c", "import torch; a = torch.ones(64, 64); a @ a"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "Dyn:1" in out


IDLE_CPU = """
import time{extra}
import torch
torch.set_num_threads(2)             # a worker thread to spin, whatever OMP_NUM_THREADS the caller had
x = torch.ones(1 << 22)
idle = 0.0
for _ in range(20):
    x.mul_(1.0)                      # a parallel region: torch's OpenMP worker runs, then waits
    c0 = time.process_time()
    time.sleep(0.05)                 # the main thread sleeps; CPU time now is the worker's spinning
    idle += time.process_time() - c0
print(idle)
"""


def _idle_cpu_seconds(extra: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", IDLE_CPU.format(extra=extra)], env=env, capture_output=True,
                         text=True, check=True).stdout
    return float(out)


def test_importing_obscura_first_shortens_torch_openmp_spinning():
    """libgomp's default spin after a parallel region (~4 ms of CPU here) would take a core from numba's kernels."""
    default, shortened = _idle_cpu_seconds(""), _idle_cpu_seconds("\nimport obscura")
    assert shortened < 0.5 * default, (shortened, default)
