"""The MOON_SEGMENTATION_BINARY loader on fixtures in the exact real layout, the split and the paired augmentation."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tinyseg.data import Dataset, Source, lunar_synth, moon
from tinyseg.data.augment import SegmentAugment, denormalize
from tinyseg.data.fixtures import write_moon_check, write_moon_layout
from tinyseg.metrics import rock_counts, rock_recall
from tinyseg.paths import get_paths


def write_pair(root, number, mask, colour_mask=False, size=None):
    """A render (noise, brighter where the rock is) and its mask, as the course's files are named."""
    (root / "images" / "render").mkdir(parents=True, exist_ok=True)
    (root / "images" / "ground").mkdir(parents=True, exist_ok=True)
    h, w = mask.shape
    rng = np.random.default_rng(int(number))
    render = (rng.integers(40, 90, (h, w, 3)) + 120 * mask[..., None]).astype(np.uint8)
    Image.fromarray(render).resize(size or (w, h)).save(root / "images" / "render" / f"render{number}.png")
    if colour_mask:  # Artificial Lunar Rocky Landscape colours: red sky, green/blue rocks, black ground
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[: h // 4, :, 0] = 255
        rgb[mask & (np.arange(w) < w // 2), 1] = 255
        rgb[mask & (np.arange(w) >= w // 2), 2] = 255
        rgb[mask] = np.where(rgb[mask].sum(-1, keepdims=True) == 0, [0, 255, 0], rgb[mask])
        Image.fromarray(rgb).save(root / "images" / "ground" / f"ground{number}.png")
    else:
        Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(
            root / "images" / "ground" / f"ground{number}.png"
        )


def blob_mask(h=48, w=72, cy=24, cx=36, r=8):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "MOON_SEGMENTATION_BINARY"
    for i in range(10):
        write_pair(root, f"{i:04d}", blob_mask(cy=12 + 2 * i, cx=12 + 4 * i, r=3 + i))
    return root


def test_pairs_by_number_and_reads_binary_masks(root, tmp_path):
    pairs = moon.find_pairs(root)
    assert [n for n, _, _ in pairs] == [f"{i:04d}" for i in range(10)]
    data = moon.load(Source(moon.NAME, "real", root), get_paths(env={}, root=tmp_path))
    assert data.images.shape == (10, 3, 128, 128) and data.images.dtype == torch.uint8
    assert data.masks.shape == (10, 1, 128, 128) and set(data.masks.unique().tolist()) == {0, 1}
    frac = data.rock_fraction()
    assert np.all(np.diff(frac) > 0)  # the blobs grow with the number
    full = blob_mask(r=3 + 9).mean()
    assert frac[9] == pytest.approx(full, rel=0.1)
    assert data.facts()["images_without_rocks"] == 0


def test_rgb_class_colour_masks(tmp_path):
    root = tmp_path / "alrl"
    mask = blob_mask(r=10)
    write_pair(root, "0001", mask, colour_mask=True)
    read = moon.read_mask(root / "images" / "ground" / "ground0001.png")
    assert np.array_equal(read, mask)  # green and blue are rock, red sky and black ground are not


def test_rgb_stored_binary_mask(tmp_path):
    mask = blob_mask()
    path = tmp_path / "ground0001.png"
    Image.fromarray(np.stack([np.where(mask, 255, 0).astype(np.uint8)] * 3, -1)).save(path)
    assert np.array_equal(moon.read_mask(path), mask)


def test_unknown_mask_values_are_named(tmp_path):
    path = tmp_path / "ground0002.png"
    Image.fromarray(np.full((8, 8), 128, np.uint8), mode="L").save(path)
    with pytest.raises(moon.MoonDataError, match=r"ground0002.png: mask values \[128\] are neither 0/255 nor 0/1"):
        moon.read_mask(path)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[0, 0] = (255, 255, 0)  # yellow is no class colour
    Image.fromarray(rgb).save(path)
    with pytest.raises(moon.MoonDataError, match="neither 0/255 nor the class colours"):
        moon.read_mask(path)


def test_unmatched_files_warn_or_fail(root):
    (root / "images" / "render" / "render0099.png").write_bytes(
        (root / "images" / "render" / "render0001.png").read_bytes()
    )
    with pytest.warns(UserWarning, match="render0099.png"):
        assert len(moon.find_pairs(root)) == 10
    with pytest.raises(moon.MoonDataError, match="without a partner.*render0099.png"):
        moon.find_pairs(root, strict=True)


def test_corrupt_png_and_size_mismatch_are_named(root, tmp_path):
    (root / "images" / "ground" / "ground0003.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(moon.MoonDataError, match="cannot read .*ground0003.png"):
        moon.load(Source(moon.NAME, "real", root), get_paths(env={}, root=tmp_path))
    other = tmp_path / "other"
    write_pair(other, "0001", blob_mask(), size=(60, 40))
    with pytest.raises(moon.MoonDataError, match="size mismatch: render0001.png is 60×40, ground0001.png is 72×48"):
        moon.load(Source(moon.NAME, "real", other), get_paths(env={}, root=tmp_path))


def test_layout_errors(tmp_path):
    with pytest.raises(moon.MoonDataError, match="expected the folders"):
        moon.find_pairs(tmp_path)


def test_mask_resize_rule():
    mask = np.zeros((480, 720), bool)
    mask[100:300, 200:500] = True  # a big rock: area kept, not shifted
    mask[400:402, 600:602] = True  # a 2×2-pixel pebble: far below half a 128-pixel
    small = moon.resize_mask(mask)
    assert small.mean() == pytest.approx(mask.mean(), rel=0.03)
    rows, cols = np.nonzero(small[:100])
    assert abs(rows.mean() * 480 / 128 - 200) < 4 and abs(cols.mean() * 720 / 128 - 350) < 6
    assert small[int(401 * 128 / 480), int(601 * 128 / 720)]  # the pebble survives as one pixel
    assert small[100:].sum() == 1


def test_split_is_deterministic_disjoint_and_stratified(root, tmp_path):
    real = moon.load(Source(moon.NAME, "real", root), get_paths(env={}, root=tmp_path))
    data = moon.MoonData(real.images, real.masks, real.numbers, Source(moon.NAME, "generated", root), "stand-in")
    a, b = moon.make_split(data, seed=0), moon.make_split(data, seed=0)
    assert a == b and a.test == []  # the stand-in's test set is generated separately: no test part here
    assert not set(a.train) & set(a.val) and sorted(a.train + a.val, key=int) == data.numbers
    assert len(a.val) == 2
    assert moon.make_split(data, seed=1) != a
    a.save(tmp_path / "split.json")
    assert "test" not in json.loads((tmp_path / "split.json").read_text())  # as the committed split.json files
    assert moon.Split.read(tmp_path / "split.json") == a
    train_idx, val_idx = a.indices(data)
    assert len(train_idx) == 8 and len(val_idx) == 2


def test_real_data_sets_a_fixed_test_part_aside(root, tmp_path):
    data = moon.load(Source(moon.NAME, "real", root), get_paths(env={}, root=tmp_path))
    split = moon.make_split(data)
    assert split == moon.make_split(data) and split != moon.make_split(data, seed=1)
    assert len(split.test) == round(10 * moon.TEST_FRACTION) == 2  # 15%, then 80/20 of the rest
    assert len(split.val) == 2 and len(split.train) == 6
    assert sorted(split.train + split.val + split.test, key=int) == data.numbers
    split.save(tmp_path / "split.json")
    assert moon.Split.read(tmp_path / "split.json") == split
    train, val, test = split.all_indices(data)
    assert [data.numbers[i] for i in test.tolist()] == split.test and len(train) == 6
    assert moon.make_split(data, test_fraction=0) == moon.make_split(
        moon.MoonData(data.images, data.masks, data.numbers, Source(moon.NAME, "generated", root), "x")
    )
    with pytest.raises(moon.MoonDataError, match="at least 5 besides its 1 test pair"):
        moon.make_split(moon.MoonData(data.images[:5], data.masks[:5], data.numbers[:5], data.source, "five"))


def test_paired_augmentation_keeps_image_and_mask_aligned():
    """The image is bright exactly where the mask is 1; after any augmentation this must still hold."""
    torch.manual_seed(0)
    mask = torch.zeros(16, 1, 128, 128, dtype=torch.uint8)
    mask[:, :, 30:70, 50:110] = 1  # an off-centre rectangle, so flips and shifts show
    img = (mask.repeat(1, 3, 1, 1) * 200 + 30).to(torch.uint8)
    aug = SegmentAugment(train=True, brightness=0, contrast=0, gamma=0, noise=0, blur_p=0)
    x, m = aug(img, mask)
    assert x.shape == (16, 3, 128, 128) and m.shape == (16, 1, 128, 128)
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    bright = denormalize(x)[:, :1] > 0.5
    agree = (bright == (m > 0.5)).float().mean()
    assert agree > 0.98  # only a thin border of interpolated pixels may differ
    assert not torch.equal(m, mask.float())  # it did move
    x_val, m_val = SegmentAugment(train=False)(img, mask)
    assert torch.equal(m_val, mask.long())


def test_photometric_augmentation_leaves_masks_alone():
    mask = torch.randint(0, 2, (4, 1, 128, 128), dtype=torch.uint8)
    img = torch.randint(0, 256, (4, 3, 128, 128), dtype=torch.uint8)
    aug = SegmentAugment(train=True, scale=(1, 1), ratio=(1, 1), rotate=0)
    torch.manual_seed(3)
    x, m = aug(img, mask)
    flipped = mask.flip(-1).long()
    for i in range(4):
        assert torch.equal(m[i], mask[i].long()) or torch.equal(m[i], flipped[i])
    assert torch.isfinite(x).all()


def test_locate_prefers_the_real_data(root, tmp_path):
    paths = get_paths(env={"MOON_ROOT": str(root), "DATA_DIR": str(tmp_path / "data")}, root=tmp_path)
    assert moon.locate(paths) == Source("MOON_SEGMENTATION_BINARY", "real", root)
    absent = get_paths(env={"MOON_ROOT": str(tmp_path / "none"), "DATA_DIR": str(tmp_path / "data")}, root=tmp_path)
    with pytest.raises(moon.MoonDataError, match="does not exist"):
        moon.locate(absent, generate=False)


def test_the_real_check_set_is_located_read_and_never_guessed(tmp_path, capsys):
    absent = get_paths(env={}, root=tmp_path)
    assert moon.locate_check(absent) is None
    assert "real check set not found at data/moon_real_check" in capsys.readouterr().out
    wrong = get_paths(env={"MOON_CHECK_ROOT": str(tmp_path / "typo")}, root=tmp_path)
    with pytest.raises(moon.MoonDataError, match="MOON_CHECK_ROOT=.*typo does not exist"):
        moon.locate_check(wrong)
    root = write_moon_check(tmp_path / "data" / "moon_real_check", n=3)  # the default location
    source = moon.locate_check(absent)
    assert source == Source(moon.NAME, "check", root)
    data = moon.load(source, absent)
    assert data.images.shape == (3, 3, 128, 128) and "REAL renders with cleaned masks" in data.where
    assert isinstance(data, Dataset) and data.kind == "check" and data.facts()["data"] == data.where


def test_the_profile_decides_the_size_of_the_stand_in(tmp_path, monkeypatch, capsys):
    paths = get_paths(env={}, root=tmp_path)  # MOON_ROOT unset and nothing at the default location
    calls = []
    monkeypatch.setattr(
        lunar_synth,
        "generate",
        lambda root, n, seed, version: (
            calls.append((n, seed, version)) or (root.mkdir(parents=True), (root / "GENERATED.txt").write_text("x"))
        ),
    )
    source = moon.locate(paths, profile="smoke")
    assert calls == [(moon.PAIRS["smoke"], moon.STAND_IN_SEED, lunar_synth.VERSION)]
    assert source.kind == "generated"
    assert source.location == moon.stand_in_dir(paths, moon.PAIRS["smoke"], moon.STAND_IN_SEED, lunar_synth.VERSION)
    assert f"GENERATED stand-in ({moon.PAIRS['smoke']} pairs" in capsys.readouterr().out
    with pytest.raises(moon.MoonDataError, match="does not exist"):
        moon.locate(paths, profile="cpu", generate=False)  # the cpu profile's 1,000 pairs were never generated


def test_rock_recall_counts_rocks_with_half_their_pixels_found():
    truth = torch.zeros(1, 1, 128, 128, dtype=torch.uint8)
    truth[0, 0, 10:14, 10:14] = 1  # 16 px: found (all pixels predicted)
    truth[0, 0, 40:44, 40:44] = 1  # 16 px: 4 of 16 predicted → not found
    truth[0, 0, 80:100, 80:100] = 1  # 400 px: found (half predicted)
    pred = torch.zeros_like(truth, dtype=torch.bool)
    pred[0, 0, 10:14, 10:14] = True
    pred[0, 0, 40, 40:44] = True
    pred[0, 0, 80:90, 80:100] = True
    pred[0, 0, 0:5, 0:5] = True  # a rock the (cleaned) truth does not mark: no effect on recall
    rows = {r["size"]: (r["rocks"], r["found"]) for r in rock_recall(pred, truth)}
    assert rows["10–49 px"] == (2, 0.5) and rows["≥ 200 px"] == (1, 1.0)
    assert rows["1–9 px"][0] == 0 and np.isnan(rows["1–9 px"][1])
    rocks, found = rock_counts(torch.cat([pred, pred]), torch.cat([truth, 0 * truth]))  # per image and size class
    assert rocks.tolist() == [[0, 2, 0, 1], [0, 0, 0, 0]] and found.tolist() == [[0, 1, 0, 1], [0, 0, 0, 0]]


def test_the_stand_in_test_set_is_generated_with_another_seed_and_the_same_version(tmp_path, monkeypatch, capsys):
    paths = get_paths(env={}, root=tmp_path)
    calls = []

    def generate(root, n, seed, version):
        calls.append((n, seed, version))
        return write_moon_layout(root, n=2, seed=seed, generated=True)

    monkeypatch.setattr(lunar_synth, "generate", generate)
    trained_on = Source(moon.NAME, "generated", moon.stand_in_dir(paths, 1000, moon.STAND_IN_SEED, 2))
    test = moon.locate_test(paths, trained_on, profile="cpu")
    assert calls == [(moon.TEST_PAIRS["cpu"], moon.TEST_SEED, 2)]  # the version of the training stand-in
    assert test == Source(moon.NAME, "generated", tmp_path / "data" / "moon_synth" / "seed1-n300-v2")
    assert "stand-in test set (300 pairs, seed 1, generator version 2" in capsys.readouterr().out
    assert moon.locate_test(paths, trained_on, profile="cpu") == test and len(calls) == 1  # generated once
    with pytest.raises(moon.MoonDataError, match="does not exist"):
        moon.locate_test(paths, trained_on, profile="smoke", generate=False)
    assert moon.locate_test(paths, Source(moon.NAME, "real", tmp_path / "real")) is None  # carved from the split
    on_test_seed = Source(moon.NAME, "generated", moon.stand_in_dir(paths, 1000, moon.TEST_SEED, 2))
    with pytest.raises(moon.MoonDataError, match="the seed of the stand-in's test set"):
        moon.locate_test(paths, on_test_seed)
    # a generated set elsewhere: its version from the generator's note, else no test set (said)
    other = write_moon_layout(tmp_path / "mine", n=3, generated=True)
    assert moon.locate_test(paths, Source(moon.NAME, "generated", other)) is None
    assert "no test set is generated for it" in capsys.readouterr().out
    (other / "GENERATED.txt").write_text(
        "Procedural stand-in for MOON_SEGMENTATION_BINARY made by tinyseg.data.lunar_synth version 3: 3 pairs, "
        "seed 7, 720x480.\n"
    )
    assert moon.generated_set(other) == (3, 7, 3)
    assert moon.locate_test(paths, Source(moon.NAME, "generated", other), profile="smoke").location.name == (
        "seed1-n8-v3"
    )


def test_check_set_halves_by_position_in_number_order():
    """The real check set's README: tuning half = even positions in number order, test half = odd ones."""
    numbers = ["0366", "0036", "0213", "0303", "0479", "0324"]  # in any order, as a loader might list them
    tuning = moon.check_half_indices(numbers, "tuning")
    test = moon.check_half_indices(numbers, "test")
    assert [numbers[i] for i in tuning] == ["0366", "0036", "0303"]  # positions 0, 2, 4 of 0036 0213 0303 ...
    assert sorted([numbers[i] for i in test]) == ["0213", "0324", "0479"]
    assert sorted(tuning.tolist() + test.tolist()) == list(range(len(numbers)))
    with pytest.raises(ValueError, match="unknown half"):
        moon.check_half_indices(numbers, "val")
