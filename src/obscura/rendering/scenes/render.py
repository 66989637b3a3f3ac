"""Ray-cast renderer for textured meshes (open3d ``RaycastingScene``).

Each pixel is the average of ``supersample**2`` rays (box filter): for every ray open3d returns the
hit triangle and its barycentric coordinates; the triangle's corner UVs are interpolated with them
and the texture is read with bilinear filtering. Surfaces are unlit (albedo only), so a pixel's
colour is independent of the viewpoint — exactly what radiance-field methods should recover.
Depth is the camera-space z of the surface through the pixel centre (0 where no surface).
"""

from __future__ import annotations

import numba
import numpy as np

from obscura.rendering.cameras import Intrinsics
from obscura.rendering.scenes.mesh import TexturedMesh


def bilinear(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Sample an (H, W, C) texture at (N, 2) uv in [0, 1] (texel centres at (i + 0.5)/size, clamped edges)."""
    h, w = texture.shape[:2]
    x = np.clip(uv[:, 0] * w - 0.5, 0.0, w - 1.0)
    y = np.clip(uv[:, 1] * h - 0.5, 0.0, h - 1.0)
    x0 = np.minimum(x.astype(np.int64), w - 2) if w > 1 else np.zeros(len(x), np.int64)
    y0 = np.minimum(y.astype(np.int64), h - 2) if h > 1 else np.zeros(len(y), np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = texture[y0, x0] * (1 - fx) + texture[y0, x1] * fx
    bottom = texture[y1, x0] * (1 - fx) + texture[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


@numba.njit(parallel=True, cache=True)
def _shade_kernel(gid, prim, bary, uvs, tri_off, texels, tex_off, tex_hw, background):
    n = gid.shape[0]
    out = np.empty((n, 3), np.float32)
    for i in numba.prange(n):
        g = np.int64(gid[i])
        if g >= tri_off.shape[0] - 1:  # INVALID_ID: no hit
            out[i] = background
            continue
        f = tri_off[g] + np.int64(prim[i])
        b1, b2 = np.float64(bary[i, 0]), np.float64(bary[i, 1])
        b0 = 1.0 - b1 - b2
        u = b0 * uvs[f, 0, 0] + b1 * uvs[f, 1, 0] + b2 * uvs[f, 2, 0]
        v = b0 * uvs[f, 0, 1] + b1 * uvs[f, 1, 1] + b2 * uvs[f, 2, 1]
        h, w = tex_hw[g, 0], tex_hw[g, 1]
        x = min(max(u * w - 0.5, 0.0), w - 1.0)
        y = min(max(v * h - 0.5, 0.0), h - 1.0)
        x0, y0 = min(np.int64(x), max(w - 2, 0)), min(np.int64(y), max(h - 2, 0))
        x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
        fx, fy = x - x0, y - y0
        base = tex_off[g]
        for c in range(3):
            top = texels[base + y0 * w + x0, c] * (1 - fx) + texels[base + y0 * w + x1, c] * fx
            bottom = texels[base + y1 * w + x0, c] * (1 - fx) + texels[base + y1 * w + x1, c] * fx
            out[i, c] = top * (1 - fy) + bottom * fy
    return out


class MeshRenderer:
    """Holds the meshes in an open3d raycasting scene; renders RGB and depth for pinhole cameras."""

    def __init__(self, meshes: list[TexturedMesh], background=(0.5, 0.5, 0.5), num_threads: int = 0):
        import open3d as o3d

        self.meshes = meshes
        self.background = np.asarray(background, np.float32)
        self.num_threads = num_threads
        self._scene = o3d.t.geometry.RaycastingScene()
        for m in meshes:
            self._scene.add_triangles(o3d.core.Tensor(m.vertices.astype(np.float32)),
                                      o3d.core.Tensor(m.triangles.astype(np.uint32)))
        # all UVs and textures packed into flat arrays for the numba shading kernel
        self._packed = (
            np.concatenate([m.uvs for m in meshes]).astype(np.float64),
            np.cumsum([0] + [len(m.triangles) for m in meshes]).astype(np.int64),
            np.concatenate([m.texture.reshape(-1, 3) for m in meshes]).astype(np.float32),
            np.cumsum([0] + [m.texture.shape[0] * m.texture.shape[1] for m in meshes]).astype(np.int64),
            np.array([m.texture.shape[:2] for m in meshes], np.int64),
        )

    def cast(self, intrinsics: Intrinsics, T_cam_from_world: np.ndarray) -> dict[str, np.ndarray]:
        """Raw hits for one ray per pixel centre: t_hit (= camera z, rays have unit z), ids, barycentrics."""
        import open3d as o3d

        rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
            o3d.core.Tensor(intrinsics.K), o3d.core.Tensor(np.asarray(T_cam_from_world, np.float64)),
            intrinsics.width, intrinsics.height)
        hits = self._scene.cast_rays(rays, nthreads=self.num_threads)
        return {k: v.numpy() for k, v in hits.items()}

    def shade(self, hits: dict[str, np.ndarray]) -> np.ndarray:
        """Texture colour for each ray of :meth:`cast` (background where nothing was hit)."""
        shape = hits["geometry_ids"].shape
        out = _shade_kernel(hits["geometry_ids"].reshape(-1), hits["primitive_ids"].reshape(-1),
                            hits["primitive_uvs"].reshape(-1, 2), *self._packed, self.background)
        return out.reshape(*shape, 3)

    def render(self, intrinsics: Intrinsics, T_cam_from_world: np.ndarray,
               supersample: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) float32 RGB in [0, 1] anti-aliased by ``supersample``² rays, and (H, W) float32 depth."""
        s = int(supersample)
        hits = self.cast(intrinsics.scaled(s), T_cam_from_world)
        rgb = self.shade(hits)
        h, w = intrinsics.height, intrinsics.width
        rgb = rgb.reshape(h, s, w, s, 3).mean(axis=(1, 3))
        depth_hits = hits if s == 1 else self.cast(intrinsics, T_cam_from_world)
        depth = depth_hits["t_hit"].astype(np.float32)
        depth[~np.isfinite(depth)] = 0.0
        return rgb.astype(np.float32), depth

    def sample_surface(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points spread uniformly over the surface area, with their texture colours."""
        areas = np.concatenate([m.triangle_areas() for m in self.meshes])
        owner = np.concatenate([np.full(len(m.triangles), g) for g, m in enumerate(self.meshes)])
        local = np.concatenate([np.arange(len(m.triangles)) for m in self.meshes])
        pick = rng.choice(len(areas), size=n, p=areas / areas.sum())
        r1, r2 = rng.random(n), rng.random(n)
        flip = r1 + r2 > 1
        r1[flip], r2[flip] = 1 - r1[flip], 1 - r2[flip]
        points = np.empty((n, 3))
        colors = np.empty((n, 3), np.float32)
        for g, m in enumerate(self.meshes):
            sel = np.flatnonzero(owner[pick] == g)
            if sel.size == 0:
                continue
            tri = local[pick[sel]]
            b1, b2 = r1[sel, None], r2[sel, None]
            v = m.vertices[m.triangles[tri]]
            points[sel] = (1 - b1 - b2) * v[:, 0] + b1 * v[:, 1] + b2 * v[:, 2]
            c = m.uvs[tri]
            colors[sel] = bilinear(m.texture, (1 - b1 - b2) * c[:, 0] + b1 * c[:, 1] + b2 * c[:, 2])
        return points, colors

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        v = np.concatenate([m.vertices for m in self.meshes])
        return v.min(0), v.max(0)
