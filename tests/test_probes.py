"""The probe logs rendered as tables: every committed probe log reads, and the generator probes' table
says what each probe changed and shows only the real check set's tuning half."""

import pytest

from tinyseg import runs as run_table
from tinyseg.paths import get_paths
from tinyseg.report import probes


def test_every_committed_probe_log_reads():
    for kind in probes.PROBES:
        assert isinstance(probes.load_probes(get_paths(), kind), list)


def test_generator_probe_table_words_and_numbers():
    recall = [
        {"size": s, "rocks": 10, "found": f}
        for s, f in (("1–9 px", 0.1), ("10–49 px", 0.5), ("50–199 px", 0.6), ("≥ 200 px", 0.7))
    ]
    base = {
        "name": "base",
        "version": 2,
        "changes": {},
        "augment": {},
        "train_seed": 0,
        "rock_share": 0.145,
        "stand_in_val_iou": 0.54,
        "real_tuning_iou": 0.207,
        "real_tuning_found_ge10px": 0.6,
        "real_tuning_rock_recall": recall,
    }
    denser = {**base, "name": "d", "changes": {"rock_density": [0.7, 10]}, "augment": {"gamma": 0.4}}
    table = probes.generator_probe_table([base, denser]).data
    assert table.loc["base", "изменение (к версии 2)"] == "—"
    assert table.loc["d", "изменение (к версии 2)"] == "плотность камней 0.7–10 на м²; аугм.: гамма ±0.4"
    assert table.loc["d", "найдено по размеру 1–9 / 10–49 / 50–199 / ≥ 200 px"] == "0.10 / 0.50 / 0.60 / 0.70"
    assert not any("тестов" in c for c in table.columns)  # a probe never scores the test half


def tuning_probe(name, iou, minutes=4.0, run="unet_backbone_finetune", **changes):
    return {
        "name": name,
        "run": run,
        "changes": changes,
        "model_args": {"input_scale": 2, "stem_channels": 0},
        "unfreeze_epoch": 3,
        "encoder_lr_scale": changes.get("encoder_lr_scale", 0.3),
        "epochs": 8,
        "val_iou": iou,
        "minutes": minutes,
        "data_location": "data/moon_synth/seed0-n1000-v3",
    }


def test_the_tuning_rule_of_the_protocol():
    """docs/protocol.md: a setting replaces the default only when it beats it by ≥ 0.01 val IoU; the simpler one
    (one learning rate) unless the default beats it by ≥ 0.01; one that more than doubles the epoch is a finding."""
    trials = [
        tuning_probe("base", 0.600),
        tuning_probe("lr2", 0.609, recipe_overrides={"lr": 0.004}),  # +0.009: below the threshold
        tuning_probe("lr05", 0.611, recipe_overrides={"lr": 0.001}),  # +0.011: adopted
        tuning_probe("one_lr", 0.591, encoder_lr_scale=1.0),  # −0.009, but simpler: adopted
        tuning_probe("x1", 0.640, minutes=9.0, model_args={"input_scale": 1, "stem_channels": 16}),  # 2.25× the time
        tuning_probe("old", 0.9) | {"data_location": "data/moon_synth/seed0-n1000-v2"},  # other data: history
    ]
    mine = probes.tuning_probes(trials, "unet_backbone_finetune", "data/moon_synth/seed0-n1000-v3")
    assert [p["name"] for p in mine] == ["base", "lr2", "lr05", "one_lr", "x1"]
    verdicts = {d["probe"]["name"]: d["verdict"] for d in probes.tuning_decisions(mine)}
    assert verdicts == {"base": "default", "lr2": "kept", "lr05": "adopted", "one_lr": "adopted", "x1": "finding"}
    table = probes.tuning_probe_table(mine, 2e-3).data
    assert list(table.index) == [
        "по умолчанию",
        "пиковый шаг ×2 (0.004)",
        "пиковый шаг ×0.5 (0.001)",
        "шаг энкодера ×1",
        "вход ×1 с лёгким стемом",
    ]
    assert table.loc["вход ×1 с лёгким стемом", "время эпохи, × исходной"] == 2.25
    assert table.loc["пиковый шаг ×2 (0.004)", "решение по правилу"] == "не принята (выигрыш меньше 0.01)"
    worse = [mine[0], tuning_probe("lr_low", 0.55, recipe_overrides={"lr": 0.001})]
    assert probes.tuning_probe_table(worse, 2e-3).data["решение по правилу"].iloc[1] == "не принята (хуже исходной)"
    text = probes.tuning_summary(mine, run_table.get("unet_backbone_finetune"), 2e-3)
    assert "пиковый шаг ×0.5 (0.001); шаг энкодера ×1" in text and "+0.040 IoU" in text
    elsewhere = tuning_probe("x1_elsewhere", 0.640, minutes=9.0, model_args={"input_scale": 1}) | {"device": "other"}
    decided = probes.tuning_decisions([*mine, elsewhere])[-1]  # no default timed on that machine: no time ratio
    assert decided["time"] is None and decided["verdict"] == "adopted"
    with pytest.raises(ValueError, match="default"):
        probes.tuning_decisions(mine[1:])
