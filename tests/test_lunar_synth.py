"""The procedural lunar-scene generator: determinism, layout, conventions, rock fractions, read-back."""

import numpy as np
import pytest
from PIL import Image

from tinyseg.data import lunar_synth, moon
from tinyseg.paths import get_paths


def test_deterministic_from_the_seed():
    a_rgb, a_mask = lunar_synth.render_index(7, 3, 180, 120)
    b_rgb, b_mask = lunar_synth.render_index(7, 3, 180, 120)
    assert np.array_equal(a_rgb, b_rgb) and np.array_equal(a_mask, b_mask)
    c_rgb, _ = lunar_synth.render_index(8, 3, 180, 120)
    assert not np.array_equal(a_rgb, c_rgb)


def test_writes_the_real_layout_and_conventions(tmp_path):
    out = lunar_synth.generate(tmp_path / "set", n=3, seed=1, width=180, height=120)
    renders = sorted(p.name for p in (out / "images" / "render").iterdir())
    grounds = sorted(p.name for p in (out / "images" / "ground").iterdir())
    assert renders == ["render0000.png", "render0001.png", "render0002.png"]
    assert grounds == ["ground0000.png", "ground0001.png", "ground0002.png"]
    for name in renders:
        render = Image.open(out / "images" / "render" / name)
        ground = Image.open(out / "images" / "ground" / name.replace("render", "ground"))
        assert render.mode == "RGB" and ground.mode == "L"
        assert render.size == ground.size == (180, 120)  # 3:2 like the real 720×480
        assert set(np.unique(np.asarray(ground)).tolist()) <= {0, 255}
    # read back by the same loader as the real data, labelled as generated
    paths = get_paths(env={"MOON_ROOT": str(out)}, root=tmp_path)
    source = moon.locate(paths)
    assert source.location == out and source.kind == "generated"
    data = moon.load(source, paths, strict=True)
    assert data.numbers == ["0000", "0001", "0002"] and data.images.shape == (3, 3, 128, 128)


def test_scenes_look_like_the_description():
    """Black sky above a horizon, grey ground, rock fractions mostly in the real data's range."""
    fractions, sky_top = [], []
    for i in range(8):
        rgb, mask = lunar_synth.render_index(0, i, 180, 120)
        fractions.append(mask.mean())
        sky_top.append((rgb[:5].max(-1) < 8).mean())
        assert np.ptp(rgb[..., 0].astype(int) - rgb[..., 1].astype(int)) < 16  # grey, not coloured
        assert not mask[rgb.max(-1) == 0].any() or mask[rgb.max(-1) == 0].mean() < 0.05  # sky is not rock
    fractions = np.array(fractions)
    assert np.median(fractions) == pytest.approx(0.06, abs=0.05)
    assert ((fractions > 0.005) & (fractions < 0.3)).mean() >= 0.75
    assert np.mean(np.array(sky_top) > 0.5) >= 0.6  # most frames show black sky at the top


def test_generation_resumes(tmp_path):
    out = lunar_synth.generate(tmp_path / "s", n=2, seed=0, width=120, height=80)
    first = (out / "images" / "render" / "render0000.png").stat().st_mtime_ns
    (out / "images" / "render" / "render0001.png").unlink()  # as if interrupted
    lunar_synth.generate(out, n=2, seed=0, width=120, height=80)
    assert (out / "images" / "render" / "render0001.png").exists()
    assert (out / "images" / "render" / "render0000.png").stat().st_mtime_ns == first  # not redone


def test_versions_are_kept_and_the_report_finds_the_recorded_stand_in(tmp_path, monkeypatch):
    from dataclasses import replace

    v1 = lunar_synth.render_index(0, 2, 120, 80, lunar_synth.STYLES[1])
    assert np.array_equal(v1[0], lunar_synth.render_index(0, 2, 120, 80, lunar_synth.STYLES[1])[0])
    brighter = replace(lunar_synth.STYLES[1], sun_elevation=(50, 60))
    assert not np.array_equal(v1[0], lunar_synth.render_index(0, 2, 120, 80, brighter)[0])
    # a run's log names its stand-in; a missing one is generated again with the recorded version
    paths = get_paths(env={"DATA_DIR": str(tmp_path / "elsewhere")}, root=tmp_path)
    calls = []
    monkeypatch.setattr(lunar_synth, "generate", lambda root, n, seed, version: calls.append((root.name, n, seed, version))
                        or (root.mkdir(parents=True), (root / "GENERATED.txt").write_text("x")))
    record = {"kind": "generated", "location": "data/moon_synth/seed3-n16-v2"}
    source = moon.locate_recorded(paths, record)
    assert calls == [("seed3-n16-v2", 16, 3, 2)] and source.location == paths.moon_synth_dir / "seed3-n16-v2"
    assert moon.stand_in_dir(paths, 1000, 0, 1).name == "seed0-n1000"      # version 1 keeps its first name
    with pytest.raises(moon.MoonDataError, match="trained on real data at data/MOON_x, which is not there"):
        moon.locate_recorded(paths, {"kind": "real", "location": "data/MOON_x"})
