"""Importing obscura turns MKL's load-dependent thread choice off, whether torch was imported before or after."""

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
