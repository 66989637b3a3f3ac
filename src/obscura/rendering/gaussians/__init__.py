"""3D Gaussian Splatting on the CPU: SH colours, EWA projection, tile binning and a numba rasterizer."""

from obscura.rendering.gaussians.binning import Bins, bin_gaussians, bin_gaussians_reference, tile_rects
from obscura.rendering.gaussians.projection import Projected, covariance3d, project, quat_to_rotmat
from obscura.rendering.gaussians.rasterize import RasterizeFunction, rasterize
from obscura.rendering.gaussians.reference import rasterize_dense
from obscura.rendering.gaussians.sh import eval_sh, rgb_to_sh, sh_to_rgb

__all__ = ["Bins", "Projected", "RasterizeFunction", "bin_gaussians", "bin_gaussians_reference", "covariance3d",
           "eval_sh", "project", "quat_to_rotmat", "rasterize", "rasterize_dense", "rgb_to_sh", "sh_to_rgb",
           "tile_rects"]
