"""The probe logs rendered as tables: every committed probe log reads, and the generator probes' table
says what each probe changed and shows only the real check set's tuning half."""

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
