"""Procedural lunar scenes with exact rock masks, written in the MOON_SEGMENTATION_BINARY layout.

    python -m tinyseg.data.lunar_synth --out DIR --n 1000 --seed 0
    python tools/stand_in_sheet.py sheet.png [--compare-with REAL_MOON_ROOT]   # scenes with their masks, as a PNG

The stand-in for the course's data set when it is absent. Each scene is a height field seen
from 1–2 m above the ground and rendered column by column front to back (a "voxel space"
ray caster: each screen column marches away from the camera, and a sample covers the rows
that nothing nearer covered), so occlusion is exact and the mask marks precisely the visible
rock surface. What is modelled:

* terrain: long-wave hills (horizon relief), craters with raised rims, undulations and fine
  grain; two levels of detail (2.5 cm cells up to 12.8 m, 20 cm cells up to 102 m, analytic
  hills beyond), so detail shrinks with distance;
* rocks: power-law sizes (many pebbles, few boulders, sometimes one large foreground
  boulder), each an irregular faceted solid (the lower envelope of random tilted planes
  under a rounded cap, with lumps from version 2), partly buried;
* light: the sun at any azimuth (elevation 5–30° in version 1, 15–55° from version 2),
  Lommel–Seeliger reflectance for the ground (the Moon's law: no darkening towards grazing
  views; rocks by Lambert's law from version 2), hard cast shadows (a shadow test along the
  sun's azimuth on every grid cell), no atmosphere: black sky, no haze;
* camera: random heading, pitch (horizon in the upper 10–40% of the frame on flat ground),
  roll, field of view and exposure; a little sensor noise.

Scenes render at 2× the output size and are box-downsampled (anti-aliasing); the mask keeps
the pixels that are at least half rock. What differs between generator versions is a
:class:`Style` (``STYLES``); each version's output is fixed, so a stand-in is named after it.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..locks import hold
from ..paths import get_paths
from ..progress import progress

GENERATE_WAIT_S = 3 * 3600  # how long generate() waits for another process generating into the same folder
WIDTH, HEIGHT = 360, 240  # output size (3:2 like the real 720×480); rendered at 2× and downsampled


@dataclass(frozen=True)
class Style:
    """The distributions a version of the generator draws scenes from (what makes it look real or not).

    Version 1 is the generator the first committed runs used; later versions change these knobs.
    A version's output is fixed: the stand-in folder is named after it (``seed0-n1000-v2``).
    """

    sun_elevation: tuple[float, float] = (5, 30)  # degrees, uniform
    pitch: tuple[float, float] = (2, 20)  # camera pitch down, degrees, uniform
    roughness: tuple[float, float] = (0.4, 2.0)  # small-scale relief, log-uniform
    facet_slope: tuple[float, float] = (1.2, 2.2)  # steeper facets: more faceted, pyramid-like rocks
    rock_height: tuple[float, float] = (0.45, 1.1)  # rock height / radius, uniform
    rock_albedo: tuple[float, float] = (1.0, 1.45)  # rock albedo relative to the ground's, uniform
    burial: float = 0.15  # share of a rock's height below the ground
    albedo_noise: float = 0.08  # per-cell albedo speckle of the regolith
    ambient: float = 0.01  # light in shadows (earthshine, scattered light)
    rock_lumps: float = 0.0  # irregular, lumpy rock surfaces (relative height of the lumps)
    rock_lambert: float = 0.0  # rocks shaded by Lambert's law instead of Lommel–Seeliger
    # (0–1 blend): stronger light/shade contrast on rock faces
    # from version 3 (the defaults reproduce versions 1–2 byte for byte: a knob left at its default draws
    # no random numbers)
    rock_density: tuple[float, float] = (2.0, 30.0)  # rocks >= 4 cm per square metre, log-uniform
    exposure: tuple[float, float] = (0.8, 1.25)  # brightness of the typical lit pixel, uniform
    tone_gamma: tuple[float, float] = (2.2, 2.2)  # the renderer's tone curve: value ** (1 / gamma), uniform
    dark_rocks: float = 0.0  # share of rocks with a dark albedo (0.45–0.8 of the ground's)
    hill_exponent: float = 0.9  # relief amplitude ~ wavelength ** exponent: lower, steeper nearby slopes
    rock_texture: float = 0.12  # per-cell albedo speckle of rock surfaces


STYLES = {
    1: Style(),
    # version 2 (probes against the real check set: README, "The generated stand-in"): a higher sun with
    # some light in the shadows, rounder, lumpier, taller and brighter rocks shaded by Lambert's law, and
    # a speckled regolith; terrain relief and camera as in version 1 (smoother terrain made models mark
    # real rough ground as rock)
    2: Style(
        sun_elevation=(15, 55),
        ambient=0.04,
        facet_slope=(0.9, 1.6),
        burial=0.2,
        rock_height=(0.6, 1.2),
        rock_albedo=(1.2, 1.8),
        rock_lambert=1.0,
        rock_lumps=0.35,
        albedo_noise=0.15,
    ),
}
# version 3: version 2 with steeper nearby relief (the horizon row's median 18 → 9 of 128, the real tuning half's
# 7), chosen by the probes of docs/generator_probes.jsonl, scored on the real check set's tuning half only, by the
# rule of docs/protocol.md (docs/details.md, "Generator version 3")
STYLES[3] = replace(STYLES[2], hill_exponent=0.6)
VERSION = 3  # the generator version the project's stand-in is made with (see STYLES and docs/details.md)


# ---------------------------------------------------------------- scene parameters


@dataclass
class Scene:
    sun_elevation: float  # degrees
    sun_azimuth: float  # degrees, relative to the viewing direction (0: sun in front)
    cam_height: float  # metres above the ground
    pitch: float  # degrees down
    roll: float  # degrees
    fov: float  # horizontal field of view, degrees
    hill_amplitude: float  # metres
    roughness: float  # scale of the small-scale relief
    rock_density: float  # rocks with diameter >= 4 cm per square metre
    rock_exponent: float  # cumulative power law N(>D) ~ D^-exponent
    boulder: bool  # a large boulder in the foreground
    craters: int
    albedo: float
    exposure: float
    style: Style = Style()
    gamma: float = 2.2  # tone curve

    @classmethod
    def sample(cls, rng: np.random.Generator, style: Style = Style()) -> Scene:  # noqa: B008 (frozen)
        return cls(
            sun_elevation=rng.uniform(*style.sun_elevation),
            sun_azimuth=rng.uniform(-180, 180),
            cam_height=rng.uniform(1.0, 2.0),
            pitch=rng.uniform(*style.pitch),
            roll=float(np.clip(rng.normal(0, 7), -25, 25)),
            fov=rng.uniform(55, 75),
            hill_amplitude=float(np.exp(rng.uniform(np.log(3), np.log(90)))),
            roughness=float(np.exp(rng.uniform(*np.log(style.roughness)))),
            rock_density=float(np.exp(rng.uniform(*np.log(style.rock_density)))),
            rock_exponent=rng.uniform(1.4, 2.2),
            boulder=bool(rng.random() < 0.4),
            craters=int(rng.integers(0, 12)),
            albedo=rng.uniform(0.10, 0.18),
            exposure=rng.uniform(*style.exposure),
            style=style,
            gamma=_uniform(rng, style.tone_gamma),
        )


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A uniform draw, or the value itself without drawing when the range is a single value (so that
    a knob left at its default does not change the random numbers of older versions)."""
    lo, hi = bounds
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


# ---------------------------------------------------------------- terrain pieces (world coordinates, metres)


class Hills:
    """Long-wave relief: a sum of random plane waves plus an occasional mountain, defined everywhere."""

    def __init__(self, rng: np.random.Generator, amplitude: float, exponent: float = 0.9):
        k = 10
        wavelength = np.exp(rng.uniform(np.log(25), np.log(3000), k))
        self.freq = 2 * np.pi / wavelength
        angle = rng.uniform(0, 2 * np.pi, k)
        self.dir = np.stack([np.cos(angle), np.sin(angle)], 1)
        self.phase = rng.uniform(0, 2 * np.pi, k)
        self.amp = amplitude * (wavelength / 3000) ** exponent * rng.uniform(0.5, 1.0, k)
        self.mountains = [
            (
                rng.uniform(200, 1500),
                rng.uniform(0, 2 * np.pi),
                rng.uniform(100, 500),
                amplitude * rng.uniform(0.5, 2.0),
            )
            for _ in range(int(rng.integers(0, 3)))
        ]

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        h = np.zeros(np.broadcast(x, y).shape, dtype=np.float32)
        for f, (dx, dy), ph, a in zip(self.freq, self.dir, self.phase, self.amp):
            h += np.float32(a) * np.sin(np.float32(f * dx) * x + np.float32(f * dy) * y + np.float32(ph))
        for dist, ang, width, height in self.mountains:
            mx, my = dist * np.cos(ang), dist * np.sin(ang)
            h += (height * np.exp(-((x - mx) ** 2 + (y - my) ** 2) / (2 * width**2))).astype(np.float32)
        return h


def craters_height(x: np.ndarray, y: np.ndarray, craters: np.ndarray) -> np.ndarray:
    """Bowls with raised rims: rows of ``craters`` are (cx, cy, radius, depth)."""
    h = np.zeros(np.broadcast(x, y).shape, dtype=np.float32)
    for cx, cy, radius, depth in craters:
        r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2) / radius
        near = r < 2.0
        if not near.any():
            continue
        rr = r[near]
        bowl = np.where(rr < 1, -depth * (1 - rr**2), 0.0)
        rim = 0.25 * depth * np.exp(-(((rr - 1) / 0.25) ** 2))
        h[near] += (bowl + rim).astype(np.float32)
    return h


def fbm(n: int, rng: np.random.Generator, octaves: list[tuple[int, float]]) -> np.ndarray:
    """Smooth noise on an n×n grid: random coarse grids (cells, amplitude) upsampled bicubically and summed."""
    out = torch.zeros(1, 1, n, n)
    for cells, amp in octaves:
        coarse = torch.from_numpy(rng.standard_normal((1, 1, cells + 3, cells + 3)).astype(np.float32))
        mode = "bicubic" if cells < 64 else "bilinear"  # fine grain needs no smooth interpolation
        up = F.interpolate(coarse, size=(n + n * 3 // cells, n + n * 3 // cells), mode=mode, align_corners=False)
        o = n * 3 // cells // 2
        out += amp * up[..., o : o + n, o : o + n]
    return out[0, 0].numpy()


@dataclass
class Rocks:
    """Rocks in world coordinates: centre, radius, height, albedo and the shape of each."""

    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    height: np.ndarray
    albedo: np.ndarray
    facet_angle: np.ndarray  # n × 9 azimuths of the flat faces
    facet_slope: np.ndarray  # n × 9 slopes (0: face unused, so each rock has 5–9 faces)
    axis: np.ndarray  # long-axis direction
    squeeze: np.ndarray  # short/long axis ratio

    D_MIN, D_MAX, D_FAR = 0.04, 2.5, 0.4

    @classmethod
    def sample(cls, rng: np.random.Generator, scene: Scene, yaw: float, r_near: float, r_max: float) -> Rocks:
        """All rocks of 4 cm and more up to ``r_near``; beyond it only those the far level can show (>= 40 cm)."""
        alpha = scene.rock_exponent
        half = math.radians(scene.fov / 2 + abs(scene.roll) + 12)  # the wedge the camera can see

        def population(d_lo: float, r_lo: float, r_hi: float):
            share = (cls.D_MIN / d_lo) ** alpha  # fraction of rocks larger than d_lo
            n = rng.poisson(scene.rock_density * share * half * (r_hi**2 - r_lo**2))
            u = rng.random(n)
            d = d_lo * (1 - u * (1 - (d_lo / cls.D_MAX) ** alpha)) ** (-1 / alpha)  # truncated power law
            dist = np.sqrt(rng.uniform(r_lo**2, r_hi**2, n))  # uniform over the area
            return d, dist, yaw + rng.uniform(-half, half, n)

        parts = [population(cls.D_MIN, 0.4, r_near), population(cls.D_FAR, r_near, r_max)]
        if scene.boulder:
            parts.append(
                (
                    np.array([rng.uniform(0.7, 2.2)]),
                    np.array([rng.uniform(2.5, 7.0)]),
                    np.array([yaw + rng.uniform(-0.6, 0.6) * math.radians(scene.fov / 2)]),
                )
            )
        diameter, dist, angle = (np.concatenate(a) for a in zip(*parts))
        n = len(diameter)
        radius = diameter / 2
        faces = rng.integers(5, 10, n)
        slope = rng.uniform(*scene.style.facet_slope, (n, 9)) * (np.arange(9) < faces[:, None])
        return cls(
            dist * np.cos(angle),
            dist * np.sin(angle),
            radius,
            radius * rng.uniform(*scene.style.rock_height, n),
            _rock_albedo(rng, scene.style, n),
            rng.uniform(0, 2 * np.pi, (n, 9)),
            slope,
            rng.uniform(0, np.pi, n),
            rng.uniform(0.55, 1.0, n),
        )


def _rock_albedo(rng: np.random.Generator, style: Style, n: int) -> np.ndarray:
    """Rock albedos relative to the ground's: ``style.rock_albedo``, with a share ``style.dark_rocks``
    of dark rocks (drawn only when that share is not zero)."""
    albedo = rng.uniform(*style.rock_albedo, n)
    if style.dark_rocks:
        albedo = np.where(rng.random(n) < style.dark_rocks, rng.uniform(0.45, 0.8, n), albedo)
    return albedo


# ---------------------------------------------------------------- one level of detail


class Level:
    """A square height grid centred on the camera, with everything the renderer samples from it.

    Channels: height, albedo, lit (cos of the sun angle, zero in shadow), normal x/y/z, rock.
    The sun lies along +x, so cast shadows are a running maximum along the x axis.
    """

    def __init__(
        self,
        half: float,
        n: int,
        hills: Hills,
        craters: np.ndarray,
        rocks: Rocks,
        scene: Scene,
        rng: np.random.Generator,
        detail: list[tuple[int, float]],
        min_rock_cells: float,
        coarse: Level | None = None,
    ):
        self.half, self.n = half, n
        cell = 2 * half / n
        coords = (np.arange(n, dtype=np.float32) + 0.5) * cell - half
        x, y = np.meshgrid(coords, coords)  # rows: y, columns: x
        # detail fades out towards the edges, so that this level joins the coarser one without a step
        edge = np.minimum(half - np.abs(x), half - np.abs(y)) / (0.1 * half)
        taper = np.clip(edge, 0, 1) ** 2
        if coarse is None:
            base = hills(x, y) + taper * craters_height(x, y, craters)
        else:
            base = coarse.sample_ground(x, y)
        ground = base + taper * scene.roughness * fbm(n, rng, detail)
        self.ground = torch.from_numpy(ground.astype(np.float32))[None, None]
        albedo = (
            scene.albedo
            * (1 + 0.18 * fbm(n, rng, [(6, 1.0), (24, 0.5)]))
            * (1 + scene.style.albedo_noise * rng.standard_normal((n, n)).astype(np.float32))
        )
        rock_h, rock_albedo = self._rasterise(rocks, ground, cell, min_rock_cells, rng, scene.style)
        is_rock = rock_h > 0.004
        height = ground + rock_h
        albedo = np.where(is_rock, albedo * rock_albedo, albedo)

        gy, gx = np.gradient(height, cell)
        normal = np.stack([-gx, -gy, np.ones_like(gx)])
        normal /= np.linalg.norm(normal, axis=0, keepdims=True)
        e = math.radians(scene.sun_elevation)
        sun = np.array([math.cos(e), 0.0, math.sin(e)], dtype=np.float32)
        cos_i = np.clip(np.tensordot(sun, normal, 1), 0, None)
        q = height - x * math.tan(e)  # shadowed if something towards +x rises above
        ahead = np.maximum.accumulate(q[:, ::-1], axis=1)[:, ::-1]
        ahead = np.concatenate([ahead[:, 1:], np.full((n, 1), -np.inf, np.float32)], 1)
        shadow = q < ahead - 0.3 * cell * math.tan(e)
        lit = np.where(shadow, 0.0, cos_i)
        self.grid = torch.from_numpy(np.stack([height, albedo, lit, *normal, is_rock]).astype(np.float32))[None]

    @staticmethod
    def _rasterise(rocks: Rocks, ground: np.ndarray, cell: float, min_cells: float, rng, style: Style):
        n = ground.shape[0]
        half = n * cell / 2
        rock_h = np.zeros_like(ground)
        albedo = np.ones_like(ground)
        inside = (np.abs(rocks.x) < half + 1.3 * rocks.radius) & (np.abs(rocks.y) < half + 1.3 * rocks.radius)
        for i in np.flatnonzero(inside & (2 * rocks.radius >= min_cells * cell)):
            cx, cy, a, top = rocks.x[i], rocks.y[i], rocks.radius[i], rocks.height[i]
            c0 = int((cx - 1.3 * a + half) / cell)
            c1 = int((cx + 1.3 * a + half) / cell) + 1
            r0 = int((cy - 1.3 * a + half) / cell)
            r1 = int((cy + 1.3 * a + half) / cell) + 1
            c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, n), min(r1, n)
            if c0 >= c1 or r0 >= r1:
                continue
            xs = (np.arange(c0, c1, dtype=np.float32) + 0.5) * cell - half - cx
            ys = (np.arange(r0, r1, dtype=np.float32) + 0.5) * cell - half - cy
            dx, dy = np.meshgrid(xs, ys)
            axis, stretch = rocks.axis[i], rocks.squeeze[i]
            # an elongated footprint: squeeze one axis of the rock's own frame
            u = (dx * math.cos(axis) + dy * math.sin(axis)) / stretch
            v = -dx * math.sin(axis) + dy * math.cos(axis)
            ang = rocks.facet_angle[i]
            proj = (u[..., None] * np.cos(ang) + v[..., None] * np.sin(ang)) / a  # one value per face
            faceted = top * (1.5 - np.max(rocks.facet_slope[i] * proj, axis=-1))  # flat faces cut the body
            rounded = top * 1.05 * np.sqrt(np.clip(1 - (u**2 + v**2) / (1.2 * a) ** 2, 0, None))
            h = np.minimum(faceted, rounded)
            if style.rock_lumps:  # a few random waves across the rock: knobs and hollows
                k = rng.uniform(1.5, 4.0, 3) / a
                phi = rng.uniform(0, 2 * np.pi, (3, 2))
                lumps = sum(np.sin(k[j] * u + phi[j, 0]) * np.sin(k[j] * v + phi[j, 1]) for j in range(3)) / 3
                h = h * (1 + style.rock_lumps * lumps)
            h = h - style.burial * top  # partly buried
            region = (slice(r0, r1), slice(c0, c1))
            base = ground[region]
            h = np.where(h > 0, np.maximum(h + (base.mean() - base), 0), 0)  # sits level on sloping ground
            rock_h[region] = np.maximum(rock_h[region], h)
            texture = rocks.albedo[i] * (1 + style.rock_texture * rng.standard_normal(h.shape).astype(np.float32))
            albedo[region] = np.where(h > 0, texture, albedo[region])
        return rock_h, albedo

    def sample(self, x: np.ndarray, y: np.ndarray, grid: torch.Tensor | None = None) -> np.ndarray:
        """Bilinear samples of all channels at world points (channels first)."""
        grid = self.grid if grid is None else grid
        g = torch.from_numpy(np.stack([x / self.half, y / self.half], -1).astype(np.float32))
        out = F.grid_sample(grid, g.reshape(1, -1, 1, 2), mode="bilinear", padding_mode="border", align_corners=False)
        return out[0, :, :, 0].numpy().reshape(-1, *np.shape(x))

    def sample_ground(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The terrain without rocks at world points."""
        return self.sample(x, y, self.ground)[0]


# ---------------------------------------------------------------- rendering


def render(
    scene: Scene, rng: np.random.Generator, width: int = WIDTH, height: int = HEIGHT
) -> tuple[np.ndarray, np.ndarray]:
    """One scene: an RGB uint8 render and a boolean rock mask, both height×width."""
    W, H = 2 * width, 2 * height  # supersampled
    yaw = math.radians(180 - scene.sun_azimuth)  # the sun lies along +x in world coordinates
    hills = Hills(rng, scene.hill_amplitude, scene.style.hill_exponent)
    n_craters = scene.craters
    craters = np.stack(
        [
            rng.uniform(-100, 100, n_craters),
            rng.uniform(-100, 100, n_craters),
            np.exp(rng.uniform(np.log(0.8), np.log(25), n_craters)),
            np.zeros(n_craters),
        ],
        1,
    )
    craters[:, 3] = craters[:, 2] * rng.uniform(0.08, 0.2, n_craters)
    rocks = Rocks.sample(rng, scene, yaw, r_near=18.0, r_max=85.0)
    far = Level(
        102.4, 1024, hills, craters, rocks, scene, rng, detail=[(16, 0.6), (64, 0.25), (256, 0.08)], min_rock_cells=2.0
    )
    near = Level(
        12.8,
        1024,
        hills,
        craters,
        rocks,
        scene,
        rng,
        detail=[(32, 0.05), (128, 0.015), (512, 0.004)],
        min_rock_cells=1.2,
        coarse=far,
    )

    # canvas large enough that the rolled frame fits inside it
    roll = math.radians(scene.roll)
    Wc = int(math.ceil(W * abs(math.cos(roll)) + H * abs(math.sin(roll)))) + 2
    Hc = int(math.ceil(W * abs(math.sin(roll)) + H * abs(math.cos(roll)))) + 2
    f = (W / 2) / math.tan(math.radians(scene.fov / 2))
    horizon = Hc / 2 - f * math.tan(math.radians(scene.pitch))
    cam_z = float(near.sample(np.zeros(1), np.zeros(1))[0, 0]) + scene.cam_height

    depth = 0.35 * 1.006 ** np.arange(1500, dtype=np.float32)  # metres along the view axis, to ~3 km
    lateral = (np.arange(Wc, dtype=np.float32) + 0.5 - Wc / 2) / f
    fwd = np.array([math.cos(yaw), math.sin(yaw)], np.float32)
    right = np.array([math.sin(yaw), -math.cos(yaw)], np.float32)
    px = depth[:, None] * (fwd[0] + lateral[None, :] * right[0])  # K × Wc world points
    py = depth[:, None] * (fwd[1] + lateral[None, :] * right[1])

    # channels for every sample: near grid, far grid, or analytic hills beyond
    chans = np.zeros((7,) + px.shape, np.float32)
    in_near = (np.abs(px) < near.half * 0.98) & (np.abs(py) < near.half * 0.98)
    in_far = ~in_near & (np.abs(px) < far.half * 0.98) & (np.abs(py) < far.half * 0.98)
    chans[:, in_near] = near.sample(px[in_near], py[in_near])
    chans[:, in_far] = far.sample(px[in_far], py[in_far])
    out = ~(in_near | in_far)
    if out.any():
        xo, yo = px[out], py[out]
        h0 = hills(xo, yo)
        step = 2.0
        gx = (hills(xo + step, yo) - h0) / step
        gy = (hills(xo, yo + step) - h0) / step
        normal = np.stack([-gx, -gy, np.ones_like(gx)])
        normal /= np.linalg.norm(normal, axis=0, keepdims=True)
        e = math.radians(scene.sun_elevation)
        cos_i = np.clip(normal[0] * math.cos(e) + normal[2] * math.sin(e), 0, None)
        chans[:, out] = np.stack([h0, np.full_like(h0, scene.albedo), cos_i, *normal, np.zeros_like(h0)])

    # front-to-back coverage: the first sample whose projection reaches a row covers that row
    row = horizon - (chans[0] - cam_z) * f / depth[:, None]
    reach = np.minimum.accumulate(row, axis=0)  # K × Wc, non-increasing along the ray
    rows = torch.arange(Hc, dtype=torch.float32) + 0.5
    seq = torch.from_numpy(-reach.T.copy())  # Wc × K, non-decreasing
    first = torch.searchsorted(seq, (-rows).expand(Wc, Hc).contiguous()).numpy().T  # Hc × Wc
    sky = first >= len(depth)
    k = np.minimum(first, len(depth) - 1)
    cols = np.broadcast_to(np.arange(Wc), k.shape)
    # between two samples the surface is interpolated by screen row (no vertical streaks on steep faces)
    kp = np.maximum(k - 1, 0)
    prev = np.where(k > 0, reach[kp, cols], Hc)
    cur = row[k, cols]
    r = np.arange(Hc, dtype=np.float32)[:, None] + 0.5
    t = np.clip((prev - r) / np.maximum(prev - cur, 1e-6), 0, 1)[None]
    sample = (1 - t) * chans[:, kp, cols] + t * chans[:, k, cols]  # 7 × Hc × Wc
    px_hit = (1 - t[0]) * px[kp, cols] + t[0] * px[k, cols]
    py_hit = (1 - t[0]) * py[kp, cols] + t[0] * py[k, cols]
    albedo, lit, normal, rock = sample[1], sample[2], sample[3:6], sample[6]

    # Lommel–Seeliger: brightness ~ albedo · μ0 / (μ0 + μ), μ = cosine towards the camera
    to_cam = np.stack([-px_hit, -py_hit, cam_z - sample[0]])
    to_cam /= np.linalg.norm(to_cam, axis=0, keepdims=True) + 1e-6
    mu = np.clip((normal * to_cam).sum(0), 0.05, None)
    shade = 2 * lit / (lit + mu + 1e-6)
    if scene.style.rock_lambert:
        # Lambert, scaled to equal Lommel–Seeliger on flat ground seen like the ground around it
        lambert = 2 * lit / (math.sin(math.radians(scene.sun_elevation)) + mu + 1e-6)
        w = scene.style.rock_lambert
        shade = np.where(rock > 0.5, (1 - w) * shade + w * lambert, shade)
    radiance = albedo * shade + scene.style.ambient * albedo  # ambient: light in shadows
    radiance[sky] = 0.0
    rock_cov = np.where(sky, 0.0, (rock > 0.5).astype(np.float32))

    # roll: rotate the canvas and cut out the frame
    theta = torch.tensor(
        [
            [math.cos(roll) * W / Wc, -math.sin(roll) * H / Wc, 0.0],
            [math.sin(roll) * W / Hc, math.cos(roll) * H / Hc, 0.0],
        ],
        dtype=torch.float32,
    )[None]
    grid = F.affine_grid(theta, [1, 1, H, W], align_corners=False)
    stack = torch.from_numpy(np.stack([radiance, rock_cov]).astype(np.float32))[None]
    framed = F.grid_sample(stack, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    framed = F.avg_pool2d(framed, 2)[0].numpy()  # 2× supersampling → output size
    radiance, coverage = framed

    lit_pixels = radiance[radiance > 0.02 * scene.albedo]
    typical = np.median(lit_pixels) if lit_pixels.size else 1.0
    value = np.clip(radiance / (typical + 1e-6) * 0.22 * scene.exposure, 0, 1) ** (1 / scene.gamma)
    value = value + rng.normal(0, 0.008, value.shape) * (value > 0)
    value = np.clip(value, 0, 1)
    tint = 1 + rng.uniform(-0.02, 0.02, 3)
    rgb = np.clip(value[..., None] * tint * 255 + 0.5, 0, 255).astype(np.uint8)
    return rgb, coverage >= 0.5


def scene_seed(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def render_index(seed: int, index: int, width: int = WIDTH, height: int = HEIGHT, style: Style | None = None):
    """The scene number ``index`` of the set made with ``seed`` (deterministic)."""
    rng = scene_seed(seed, index)
    return render(Scene.sample(rng, style or STYLES[VERSION]), rng, width, height)


def generate(
    out: Path,
    n: int = 1000,
    seed: int = 0,
    width: int = WIDTH,
    height: int = HEIGHT,
    start: int = 0,
    version: int = VERSION,
    style: Style | None = None,
    wait: float = GENERATE_WAIT_S,
    workers: int | None = None,
) -> Path:
    """Write ``n`` pairs as ``out/images/render/renderNNNN.png`` and ``out/images/ground/groundNNNN.png``.

    Deterministic from ``seed``; pairs already on disk are kept (an interrupted run continues). One process
    generates into a folder at a time (a lock on ``out``): a second one waits for it (at most ``wait`` seconds,
    then a :class:`~tinyseg.locks.LockedError` names the holder) and then finds the pairs already made. The
    scenes are rendered in ``workers`` processes with one thread each (default: one per CPU core, at most 8);
    each scene depends only on its index, so the files are the same for any number of workers.
    """
    out = Path(out)
    render_dir, ground_dir = out / "images" / "render", out / "images" / "ground"
    render_dir.mkdir(parents=True, exist_ok=True)
    ground_dir.mkdir(parents=True, exist_ok=True)
    with hold(out / ".generate.lock", get_paths().relative(out), wait=wait, doing="(generating the lunar scenes)"):
        for folder in (render_dir, ground_dir):  # left by a process killed mid-write (we hold the lock)
            for tmp in (*folder.glob(".*.tmp"), *folder.glob("*.tmp.png")):
                tmp.unlink(missing_ok=True)
        todo = [
            i
            for i in range(start, start + n)
            if not ((render_dir / f"render{i:04d}.png").exists() and (ground_dir / f"ground{i:04d}.png").exists())
        ]
        write = partial(_write_pair, out, seed, width, height, style or STYLES[version])
        desc = f"generate lunar scenes (seed {seed})"
        workers = min(os.cpu_count() or 1, 8) if workers is None else workers
        if workers < 2 or len(todo) < 16:
            for i in progress(todo, desc=desc, unit="scene"):
                write(i)
        else:
            context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads inherited
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=torch.set_num_threads, initargs=(1,)
            ) as pool:
                for _ in progress(pool.map(write, todo, chunksize=4), total=len(todo), desc=desc, unit="scene"):
                    pass
        (out / "GENERATED.txt").write_text(
            f"Procedural stand-in for MOON_SEGMENTATION_BINARY made by tinyseg.data.lunar_synth version "
            f"{version if style is None else 'custom ' + repr(style)}: {n} pairs, seed {seed}, {width}x{height}.\n"
        )
    return out


def _write_pair(out: Path, seed: int, width: int, height: int, style: Style, i: int) -> None:
    """Render scene ``i`` and write its mask, then its render (a render without its mask is never left behind)."""
    rgb, mask = render_index(seed, i, width, height, style)
    _save_png(
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L"), out / "images/ground" / f"ground{i:04d}.png"
    )
    _save_png(Image.fromarray(rgb), out / "images/render" / f"render{i:04d}.png")


def _save_png(image: Image.Image, path: Path) -> None:
    """Save to a temporary file of this process's own beside ``path`` (hidden, not ``*.png``), then rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--height", type=int, default=HEIGHT)
    parser.add_argument("--version", type=int, default=VERSION, help="generator version (see STYLES)")
    args = parser.parse_args(argv)
    t0 = time.time()
    generate(args.out, args.n, args.seed, args.width, args.height, version=args.version)
    print(f"{args.n} pairs in {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
