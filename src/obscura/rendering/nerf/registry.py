"""NeRF models: name → config dataclass (as nerfstudio's method registry)."""

from obscura.methods import Registry
from obscura.rendering.nerf.grid import GridConfig
from obscura.rendering.nerf.vanilla import VanillaConfig

MODELS = Registry("nerf model", {GridConfig.name: GridConfig, VanillaConfig.name: VanillaConfig})
