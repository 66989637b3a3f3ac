"""The built-in scenes: photo-textured geometry and camera paths, registered by name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from obscura.rendering.cameras import Intrinsics, look_at
from obscura.rendering.scenes import textures as tx
from obscura.rendering.scenes.mesh import TexturedMesh, box, cylinder, quad, sphere


@dataclass
class SceneConfig(ABC):
    """A built-in scene: geometry + camera path. ``num_views``/``fov_x_deg``/size come from params.

    Variations for benchmarks: ``textures`` picks the texture style (:data:`textures.STYLES`), and
    ``aside_fraction`` of the views, spread evenly over the path, are turned ``aside_deg`` about the world
    up axis (alternately left and right) so they share little of their view with the rest.
    """

    num_views: int
    width: int = 480
    height: int = 360
    fov_x_deg: float = 60.0
    kind: str = ""
    background: tuple[float, float, float] = (0.5, 0.5, 0.5)
    textures: str = "photos"
    aside_fraction: float = 0.0
    aside_deg: float = 45.0

    def intrinsics(self) -> Intrinsics:
        return Intrinsics.from_fov(self.width, self.height, self.fov_x_deg)

    def texture(self, name: str) -> np.ndarray:
        return tx.texture(name, self.textures)

    @abstractmethod
    def meshes(self) -> list[TexturedMesh]:
        """The textured surfaces."""

    @abstractmethod
    def path(self) -> np.ndarray:
        """(num_views, 4, 4) world-to-camera poses (OpenCV) of the camera path, in capture order."""

    def aside_views(self) -> np.ndarray:
        """Indices of the views turned aside (evenly spread, ``round(aside_fraction * num_views)`` of them)."""
        m = round(self.aside_fraction * self.num_views)
        return np.unique(np.floor((np.arange(m) + 0.5) * self.num_views / max(m, 1)).astype(int))

    def poses(self) -> np.ndarray:
        """(num_views, 4, 4) world-to-camera poses: the path with the aside views turned about their centre."""
        poses = self.path().copy()
        for k, i in enumerate(self.aside_views()):
            a = np.radians(self.aside_deg if k % 2 == 0 else -self.aside_deg)
            yaw = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
            R, t = poses[i, :3, :3], poses[i, :3, 3]
            centre = -R.T @ t
            poses[i, :3, :3] = R @ yaw.T
            poses[i, :3, 3] = -poses[i, :3, :3] @ centre
        return poses


@dataclass
class OrbitScene(SceneConfig):
    """Object-centric: four textured objects on a photo ground inside a photo-panorama wall.

    Cameras fly a helix of ``turns`` turns around the objects (elevation ``elevation_deg[0]``→``[1]``;
    default two turns, 15°→50°), all looking at the centre, like NeRF-Synthetic captures but with a
    textured surround so SfM has features in every view. One turn at one elevation is a closed loop whose
    last view sits next to the first (a video that returns to its start).
    """

    kind: str = "object-centric orbit"
    radius: float = 3.6
    target: tuple[float, float, float] = (0.0, 0.0, 0.45)
    turns: float = 2.0
    elevation_deg: tuple[float, float] = (15.0, 50.0)

    def meshes(self) -> list[TexturedMesh]:
        ground = self.texture("china")
        wall = tx.strip(["rocket", "coffee", "hubble_deep_field", "camera", "retina"], 420, self.textures)
        crops = lambda name: tx.grid_crops(name, 2, 3, self.textures)  # noqa: E731
        return [
            quad("ground", (-7.0, 7.0, 0.0), (14.0, 0.0, 0.0), (0.0, -14.0, 0.0), ground, "china"),
            cylinder("wall", (0.0, 0.0, -0.01), 6.5, 4.5, wall[:, ::-1], segments=192,
                     source="rocket|coffee|hubble_deep_field|camera|retina"),
            *box("box_a", (-0.55, -0.35, 0.4), (0.8, 0.8, 0.8), crops("astronaut"), 20.0, "astronaut"),
            *box("box_b", (0.75, 0.55, 0.3), (0.9, 0.5, 0.6), crops("chelsea"), -35.0, "chelsea"),
            sphere("sphere", (0.6, -0.75, 0.45), 0.45, self.texture("flower"), source="flower"),
            cylinder("pillar", (-0.6, 0.8, 0.0), 0.28, 1.3, self.texture("immunohistochemistry"), 64,
                     source="immunohistochemistry"),
        ]

    def path(self) -> np.ndarray:
        n = self.num_views
        i = np.arange(n)
        azimuth = 2 * np.pi * self.turns * i / n
        lo, hi = self.elevation_deg
        elevation = np.radians(lo + (hi - lo) * i / max(n - 1, 1))
        r = self.radius * (1 + 0.08 * np.sin(3 * azimuth))
        eyes = np.stack([r * np.cos(elevation) * np.cos(azimuth), r * np.cos(elevation) * np.sin(azimuth),
                         self.target[2] + r * np.sin(elevation)], 1)
        return np.stack([look_at(e, self.target) for e in eyes])


@dataclass
class RoomScene(SceneConfig):
    """Forward-facing room: photo walls, floor and ceiling with objects; LLFF-like camera spiral.

    Cameras sit on a sunflower spiral in a 2.4 m x 1.2 m window at the front of the room, all
    looking at a point on the back wall, so views overlap strongly with small baselines.
    """

    kind: str = "forward-facing room"
    fov_x_deg: float = 65.0
    target: tuple[float, float, float] = (0.0, 5.0, 1.3)

    def meshes(self) -> list[TexturedMesh]:
        W, D0, D1, H = 4.0, -1.0, 5.5, 3.2  # half-width, front/back y, height
        t = self.texture
        return [
            quad("back_wall", (-W, D1, H), (2 * W, 0, 0), (0, 0, -H), t("china"), "china"),
            quad("left_wall", (-W, D0, H), (0, D1 - D0, 0), (0, 0, -H), t("rocket"), "rocket"),
            quad("right_wall", (W, D1, H), (0, D0 - D1, 0), (0, 0, -H), t("coffee"), "coffee"),
            quad("floor", (-W, D1, 0), (2 * W, 0, 0), (0, D0 - D1, 0), t("hubble_deep_field"), "hubble_deep_field"),
            quad("ceiling", (-W, D0, H), (2 * W, 0, 0), (0, D1 - D0, 0), t("camera"), "camera"),
            *box("box", (-1.3, 3.2, 0.45), (0.9, 0.9, 0.9), tx.grid_crops("astronaut", 2, 3, self.textures), 25.0,
                 "astronaut"),
            sphere("sphere", (1.2, 2.6, 0.55), 0.55, t("immunohistochemistry"), source="immunohistochemistry"),
            cylinder("pillar", (0.2, 4.2, 0.0), 0.35, 1.8, t("chelsea"), 64, source="chelsea"),
            quad("panel", (-0.2, 2.0, 1.9), (1.0, 0.4, 0.0), (0.0, 0.0, -0.7), t("flower"), "flower"),
        ]

    def path(self) -> np.ndarray:
        n = self.num_views
        i = np.arange(n) + 0.5
        r = np.sqrt(i / n)
        theta = i * np.pi * (3 - np.sqrt(5))  # golden angle
        eyes = np.stack([1.2 * r * np.cos(theta), -0.3 + 0.25 * r * np.sin(2 * theta),
                         1.3 + 0.6 * r * np.sin(theta)], 1)
        return np.stack([look_at(e, self.target) for e in eyes])


SCENES: dict[str, type[SceneConfig]] = {"orbit": OrbitScene, "room": RoomScene}
