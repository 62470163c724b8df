"""The fast MOON fixture writer: a valid folder in the real layout in milliseconds, the same from the same seed."""

import time

import numpy as np
from PIL import Image

from tinyseg.data import Source, moon
from tinyseg.data.fixtures import moon_scene, write_moon_check, write_moon_layout
from tinyseg.paths import get_paths


def test_a_layout_valid_folder_in_milliseconds_that_the_loader_reads(tmp_path):
    start = time.perf_counter()
    root = write_moon_layout(tmp_path / "m", n=12, seed=3, width=90, height=60)
    assert time.perf_counter() - start < 2  # the real generator takes about a second per scene
    assert sorted(p.name for p in (root / "images" / "render").iterdir()) == [f"render{i:04d}.png" for i in range(12)]
    for i in range(12):
        render = Image.open(root / "images" / "render" / f"render{i:04d}.png")
        ground = Image.open(root / "images" / "ground" / f"ground{i:04d}.png")
        assert render.mode == "RGB" and ground.mode == "L" and render.size == ground.size == (90, 60)
        assert set(np.unique(np.asarray(ground)).tolist()) == {0, 255}  # every scene has rock and ground
        rock = np.asarray(ground) == 255
        assert np.asarray(render)[rock].mean() > np.asarray(render)[~rock].mean() + 50  # rocks are visible
    paths = get_paths(env={}, root=tmp_path)
    data = moon.load(Source(moon.NAME, "real", root), paths)
    assert data.numbers == [f"{i:04d}" for i in range(12)] and data.images.shape == (12, 3, 128, 128)
    assert data.facts()["images_without_rocks"] == 0
    located = moon.locate(get_paths(env={"MOON_ROOT": str(root)}, root=tmp_path))
    assert located.kind == "real"  # no GENERATED.txt: read as real data


def test_deterministic_from_the_seed_and_marked_when_asked(tmp_path):
    a, b = moon_scene(5, 2, 64, 48), moon_scene(5, 2, 64, 48)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], moon_scene(6, 2, 64, 48)[1])  # another seed
    assert not np.array_equal(a[1], moon_scene(5, 3, 64, 48)[1])  # another index
    root = write_moon_layout(tmp_path / "g", n=2, start=7, generated=True)
    assert sorted(p.name for p in (root / "images" / "ground").iterdir()) == ["ground0007.png", "ground0008.png"]
    assert moon.locate(get_paths(env={"MOON_ROOT": str(root)}, root=tmp_path)).kind == "generated"
    check = write_moon_check(tmp_path / "check", n=3)
    assert not (check / "GENERATED.txt").exists() and len(moon.find_pairs(check)) == 3
