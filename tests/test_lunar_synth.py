"""The procedural lunar-scene generator: determinism, layout, conventions, rock fractions, read-back."""

import shutil

import numpy as np
import pytest
from PIL import Image

from tinyseg.data import lunar_synth, moon
from tinyseg.paths import get_paths

# ``lunar_stand_in`` (tests/conftest.py): the smoke stand-in, written once per test run by generate()


def read_pair(root, i):
    """Pair ``i`` of a generated set as rendered: (H×W×3 uint8, H×W bool); PNG keeps every bit."""
    rgb = np.asarray(Image.open(root / "images" / "render" / f"render{i:04d}.png"))
    return rgb, np.asarray(Image.open(root / "images" / "ground" / f"ground{i:04d}.png")) == 255


def test_deterministic_from_the_seed(lunar_stand_in):
    """A scene is a function of (seed, index): rendered again, it is bit for bit the pair generate() wrote."""
    rgb, mask = lunar_synth.render_index(moon.STAND_IN_SEED, 3)
    written_rgb, written_mask = read_pair(lunar_stand_in, 3)
    assert np.array_equal(rgb, written_rgb) and np.array_equal(mask, written_mask)
    assert not np.array_equal(rgb, read_pair(lunar_stand_in, 4)[0])  # another index, another scene
    style = lunar_synth.STYLES[lunar_synth.VERSION]
    scene = lunar_synth.Scene.sample(lunar_synth.scene_seed(moon.STAND_IN_SEED, 3), style)
    assert scene == lunar_synth.Scene.sample(lunar_synth.scene_seed(moon.STAND_IN_SEED, 3), style)
    assert scene != lunar_synth.Scene.sample(lunar_synth.scene_seed(moon.STAND_IN_SEED + 1, 3), style)  # another seed


def test_writes_the_real_layout_and_conventions(lunar_stand_in, tmp_path):
    out, n = lunar_stand_in, moon.PAIRS["smoke"]
    renders = sorted(p.name for p in (out / "images" / "render").iterdir())
    grounds = sorted(p.name for p in (out / "images" / "ground").iterdir())
    assert renders == [f"render{i:04d}.png" for i in range(n)]
    assert grounds == [f"ground{i:04d}.png" for i in range(n)]
    for name in renders:
        render = Image.open(out / "images" / "render" / name)
        ground = Image.open(out / "images" / "ground" / name.replace("render", "ground"))
        assert render.mode == "RGB" and ground.mode == "L"
        assert render.size == ground.size == (lunar_synth.WIDTH, lunar_synth.HEIGHT)
        assert render.size[0] * 2 == render.size[1] * 3  # 3:2 like the real 720×480
        assert set(np.unique(np.asarray(ground)).tolist()) <= {0, 255}
    # read back by the same loader as the real data, labelled as generated
    paths = get_paths(env={"MOON_ROOT": str(out)}, root=tmp_path)
    source = moon.locate(paths)
    assert source.location == out and source.kind == "generated"
    moon.find_pairs(out, strict=True)  # every render has its mask
    data = moon.load(source, paths)
    assert data.numbers == [f"{i:04d}" for i in range(n)] and data.images.shape == (n, 3, 128, 128)


def test_scenes_look_like_the_description(lunar_stand_in):
    """Black sky above a horizon, grey ground, rock fractions mostly in the real data's range."""
    fractions, sky_top = [], []
    for i in range(moon.PAIRS["smoke"]):
        rgb, mask = read_pair(lunar_stand_in, i)
        fractions.append(mask.mean())
        sky_top.append((rgb[:5].max(-1) < 8).mean())
        assert np.ptp(rgb[..., 0].astype(int) - rgb[..., 1].astype(int)) < 16  # grey, not coloured
        assert not mask[rgb.max(-1) == 0].any() or mask[rgb.max(-1) == 0].mean() < 0.05  # sky is not rock
    fractions = np.array(fractions)
    assert np.median(fractions) == pytest.approx(0.06, abs=0.05)
    assert ((fractions > 0.005) & (fractions < 0.3)).mean() >= 0.75
    assert np.mean(np.array(sky_top) > 0.5) >= 0.6  # most frames show black sky at the top


def test_generation_resumes(lunar_stand_in, tmp_path):
    out = shutil.copytree(lunar_stand_in, tmp_path / "s")
    first = (out / "images" / "render" / "render0000.png").stat().st_mtime_ns
    lost = (out / "images" / "render" / "render0001.png").read_bytes()
    (out / "images" / "render" / "render0001.png").unlink()  # as if interrupted
    lunar_synth.generate(out, n=moon.PAIRS["smoke"], seed=moon.STAND_IN_SEED, version=lunar_synth.VERSION)
    assert (out / "images" / "render" / "render0001.png").read_bytes() == lost  # redone, the same scene
    assert (out / "images" / "render" / "render0000.png").stat().st_mtime_ns == first  # not redone


def test_worker_processes_write_the_same_files(tmp_path):
    """Scenes are rendered in worker processes; each depends only on its index, so the files do not depend on
    how many workers made them."""
    made = {}
    for workers in (1, 2):
        out = lunar_synth.generate(tmp_path / f"w{workers}", n=16, seed=5, width=60, height=40, workers=workers)
        made[workers] = {p.relative_to(out): p.read_bytes() for p in sorted(out.glob("images/*/*.png"))}
    assert len(made[1]) == 32 and made[1] == made[2]


def test_versions_are_kept_and_the_report_finds_the_recorded_stand_in(tmp_path, monkeypatch):
    from dataclasses import replace

    v1 = lunar_synth.render_index(0, 2, 120, 80, lunar_synth.STYLES[1])
    brighter = replace(lunar_synth.STYLES[1], sun_elevation=(50, 60))
    assert not np.array_equal(v1[0], lunar_synth.render_index(0, 2, 120, 80, brighter)[0])
    # a run's log names its stand-in; a missing one is generated again with the recorded version
    paths = get_paths(env={"DATA_DIR": str(tmp_path / "elsewhere")}, root=tmp_path)
    calls = []
    monkeypatch.setattr(
        lunar_synth,
        "generate",
        lambda root, n, seed, version: (
            calls.append((root.name, n, seed, version))
            or (root.mkdir(parents=True), (root / "GENERATED.txt").write_text("x"))
        ),
    )
    record = {"kind": "generated", "location": "data/moon_synth/seed3-n16-v2"}
    source = moon.locate_recorded(paths, record)
    assert calls == [("seed3-n16-v2", 16, 3, 2)] and source.location == paths.moon_synth_dir / "seed3-n16-v2"
    assert moon.stand_in_dir(paths, 1000, 0, 1).name == "seed0-n1000"  # version 1 keeps its first name
    with pytest.raises(moon.MoonDataError, match="trained on real data at data/MOON_x, which is not there"):
        moon.locate_recorded(paths, {"kind": "real", "location": "data/MOON_x"})


# sha256 of (rgb bytes + mask bytes) of scenes 0 and 1 (seed 0, 120×80) as each version first rendered them
PINNED = {
    1: (
        "2eb052f9ef9190dfd41c1d26ed106cea49f9838f31f8ee1f4e15c75671b5410f",
        "3918d9acd5ad5483f282bce29d07ba66bbfedcf60d2953e0b4206fda134e9956",
    ),
    2: (
        "072a9b54661494f4915e224eb5b05bbc9e74b8b261ea8df74d797d6d0b20c078",
        "1dceacc10bbb9a0301058785a886a54f19274f15d28ce0e7a1374c2d34c6f6ef",
    ),
    3: (
        "cfa4d59d8781fc7bc590f8eabdbbe7c52baafe79338a0cfda27f14c99cdd12f1",
        "660acb29c4acf4ef24c48b181589d16a8a86b06120da029836444ebf04ed96f8",
    ),
}


@pytest.mark.parametrize("version", sorted(PINNED))
def test_older_versions_render_byte_for_byte(version):
    """A committed run's stand-in can be made again exactly: knobs added by later versions leave the
    older versions' scenes (and their random numbers) untouched."""
    import hashlib

    for index, expected in enumerate(PINNED[version]):
        rgb, mask = lunar_synth.render_index(0, index, 120, 80, lunar_synth.STYLES[version])
        assert hashlib.sha256(rgb.tobytes() + mask.tobytes()).hexdigest() == expected, (version, index)
