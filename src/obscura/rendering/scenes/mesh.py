"""Textured triangle meshes and the primitives the built-in scenes are made of."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TexturedMesh:
    """Triangles with per-corner texture coordinates into one RGB texture.

    ``uvs[f, k]`` is the (u, v) of corner ``k`` of triangle ``f``; u runs left->right along texture
    columns and v top->bottom along rows, both in [0, 1] (texel centres at (i + 0.5) / size).
    """

    name: str
    vertices: np.ndarray   # (V, 3) float
    triangles: np.ndarray  # (F, 3) int
    uvs: np.ndarray        # (F, 3, 2) float
    texture: np.ndarray    # (H, W, 3) float32 in [0, 1]
    source: str = ""

    def triangle_areas(self) -> np.ndarray:
        a, b, c = (self.vertices[self.triangles[:, k]] for k in range(3))
        return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def quad(name: str, origin, edge_u, edge_v, texture: np.ndarray, source: str = "") -> TexturedMesh:
    """Parallelogram ``origin + a * edge_u + b * edge_v`` (a, b in [0, 1]); texture u along edge_u, v along edge_v."""
    o, eu, ev = (np.asarray(x, np.float64) for x in (origin, edge_u, edge_v))
    vertices = np.stack([o, o + eu, o + eu + ev, o + ev])
    triangles = np.array([[0, 1, 2], [0, 2, 3]])
    corner_uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    return TexturedMesh(name, vertices, triangles, corner_uv[triangles], texture, source)


def box(name: str, center, size, textures: list[np.ndarray], yaw_deg: float = 0.0,
        source: str = "") -> list[TexturedMesh]:
    """Axis-aligned (then yawed about +z) box as six quads, each face with its own texture.

    Face order: +x, -x, +y, -y, +z (top), -z (bottom). Side faces have texture v pointing down (-z).
    """
    c = np.asarray(center, np.float64)
    sx, sy, sz = (np.asarray(size, np.float64) / 2)
    yaw = np.radians(yaw_deg)
    Rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    X, Y, Z = Rz @ [sx, 0, 0], Rz @ [0, sy, 0], np.array([0, 0, sz])
    faces = [  # (origin = top-left corner seen from outside, edge_u, edge_v)
        (c + X - Y + Z, 2 * Y, -2 * Z),
        (c - X + Y + Z, -2 * Y, -2 * Z),
        (c + X + Y + Z, -2 * X, -2 * Z),
        (c - X - Y + Z, 2 * X, -2 * Z),
        (c - X + Y + Z, 2 * X, -2 * Y),
        (c - X - Y - Z, 2 * X, 2 * Y),
    ]
    return [quad(f"{name}_{k}", o, eu, ev, tex, source) for k, ((o, eu, ev), tex) in enumerate(zip(faces, textures))]


def cylinder(name: str, base_center, radius: float, height: float, texture: np.ndarray,
             segments: int = 96, angle_range: float = 2 * np.pi, source: str = "") -> TexturedMesh:
    """Open cylinder side about +z; the texture wraps once around (u = angle / angle_range, v down)."""
    c = np.asarray(base_center, np.float64)
    ang = np.linspace(0.0, angle_range, segments + 1)
    ring = np.stack([np.cos(ang), np.sin(ang), np.zeros_like(ang)], 1) * radius + c
    top, bottom = ring + [0, 0, height], ring
    vertices = np.concatenate([top, bottom])
    n = segments + 1
    i = np.arange(segments)
    triangles = np.concatenate([np.stack([i, i + n, i + 1 + n], 1), np.stack([i, i + 1 + n, i + 1], 1)])
    u = ang / angle_range
    uv_vert = np.concatenate([np.stack([u, np.zeros(n)], 1), np.stack([u, np.ones(n)], 1)])
    return TexturedMesh(name, vertices, triangles, uv_vert[triangles], texture, source)


def sphere(name: str, center, radius: float, texture: np.ndarray, n_lat: int = 48, n_lon: int = 96,
           source: str = "") -> TexturedMesh:
    """UV sphere with an equirectangular texture (u = longitude, v = colatitude)."""
    c = np.asarray(center, np.float64)
    theta = np.linspace(0.0, np.pi, n_lat + 1)          # colatitude
    phi = np.linspace(0.0, 2 * np.pi, n_lon + 1)        # longitude (seam duplicated)
    T, P = np.meshgrid(theta, phi, indexing="ij")
    vertices = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3) * radius + c
    uv_vert = np.stack([P / (2 * np.pi), T / np.pi], -1).reshape(-1, 2)
    idx = np.arange((n_lat + 1) * (n_lon + 1)).reshape(n_lat + 1, n_lon + 1)
    a, b, cc, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    tris = np.concatenate([np.stack([a, d, cc], -1).reshape(-1, 3), np.stack([a, cc, b], -1).reshape(-1, 3)])
    # drop the degenerate triangles at the poles
    tris = tris[np.linalg.norm(np.cross(vertices[tris[:, 1]] - vertices[tris[:, 0]],
                                        vertices[tris[:, 2]] - vertices[tris[:, 0]]), axis=1) > 1e-12]
    return TexturedMesh(name, vertices, tris, uv_vert[tris], texture, source)
