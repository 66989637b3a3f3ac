"""Named params presets (``profiles/<name>.yaml``: the stages a preset is for and dotted params keys with
their values). ``obscura exp NAME`` (``make quality``) runs one as a DVC experiment, ``dvc exp run -S
key=value … STAGES``: params.yaml keeps the defaults, the run is kept as an experiment beside them."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from obscura.config import ConfigError, parse_params


@dataclass(frozen=True)
class Profile:
    name: str
    targets: list[str]
    overrides: dict[str, object]        # dotted params key -> value

    def dvc_command(self, stamp: str | None = None) -> list[str]:
        """``dvc exp run`` with this profile's params and targets; the experiment is named
        ``<name>-<stamp>`` (default: the local time, so repeated runs keep apart)."""
        stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
        sets = [arg for key, value in self.overrides.items() for arg in ("-S", f"{key}={json.dumps(value)}")]
        return ["dvc", "exp", "run", "--name", f"{self.name}-{stamp}", *sets, *self.targets]


def available(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "profiles").glob("*.yaml"))


def load_profile(root: Path, name: str) -> Profile:
    """Read ``<root>/profiles/<name>.yaml`` and check it against ``<root>/params.yaml``: every key must be
    there already and the params with the profile applied must validate (one ConfigError otherwise)."""
    path = root / "profiles" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no profile {name!r} ({path} not found); profiles: {', '.join(available(root)) or 'none'}.")
    spec = yaml.safe_load(path.read_text()) or {}
    if not isinstance(spec, dict) or set(spec) != {"targets", "params"} or not isinstance(spec["params"], dict):
        raise ConfigError(f"{path}: expected two keys, `targets` (a list of stages) and `params` (dotted params "
                          "keys with values).")
    raw = yaml.safe_load((root / "params.yaml").read_text())
    applied = copy.deepcopy(raw)
    for key, value in spec["params"].items():
        *parents, leaf = key.split(".")
        node = applied
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            raise ConfigError(f"{path}: {key} is not a key of {root / 'params.yaml'}; check the spelling (a "
                              "profile only changes values params.yaml has).")
        node[leaf] = value
    parse_params(applied, source=f"params.yaml with profile {name}")
    return Profile(name, [str(t) for t in spec["targets"]], dict(spec["params"]))
