"""The report's tables, figures and conclusions are read from the run logs, number for number."""

from dataclasses import replace

import matplotlib
import numpy as np
import pytest
import torch
from run_logs import write_finished_run

from tinyseg import report
from tinyseg import runs as run_table
from tinyseg.device import select_runtime
from tinyseg.inference import evaluate_models
from tinyseg.models import create_model
from tinyseg.runlog import RunLog, save_weights

matplotlib.use("Agg")

SMALL_CLASSIFIER = dict(num_classes=5, stem=(8, 8), widths=(8, 16, 16, 16), depths=(1, 1, 1, 1))
SEG_IOU = {
    "unet_base": 0.512,
    "unet_backbone_frozen": 0.498,
    "unet_backbone_finetune": 0.561,
    "unet_backbone_scratch": 0.433,
}


def write_run(paths, name, best, epochs=3, data=None):
    history = [
        {
            "epoch": e,
            "lr": 0.1,
            "seconds": 200.0,
            **{k: v * e / epochs for k, v in best.items()},
            **{k.replace("val_", "train_"): v * e / epochs for k, v in best.items()},
        }
        for e in range(1, epochs + 1)
    ]
    write_finished_run(paths, name, history, spec={"unfreeze_epoch": 2}, data=data)
    return history[-1]


@pytest.fixture
def logged(tmp_paths):
    best = {
        "classifier": write_run(
            tmp_paths,
            "classifier",
            {"val_loss": 2.5, "val_top1": 0.5449, "val_top5": 0.7909, "val_macro_f1": 0.5394},
            data={
                "dataset": "Tiny ImageNet-200",
                "kind": "real",
                "location": "../x/tiny-imagenet-200.zip",
                "train": 100_000,
                "val": 10_000,
            },
        )
    }
    for name, iou in SEG_IOU.items():
        best[name] = write_run(
            tmp_paths,
            name,
            {"val_loss": 0.5, "val_iou": iou, "val_dice": iou + 0.1, "val_pixel_acc": 0.95},
            data={
                "dataset": "MOON_SEGMENTATION_BINARY",
                "kind": "generated",
                "location": "$DATA_DIR/moon_synth/seed0-n1000",
                "train": 800,
                "val": 200,
            },
        )
    return tmp_paths, best


def test_tables_equal_the_numbers_in_summary_json(logged):
    paths, best = logged
    runs = report.load_runs(paths)
    assert list(runs) == ["classifier", *SEG_IOU]
    cls = report.classification_table(runs).iloc[0]
    summary = RunLog(paths.run_dir("classifier")).summary()
    assert cls["top-1"] == summary.best["val_top1"] == best["classifier"]["val_top1"]
    assert cls["top-5"] == summary.best["val_top5"] and cls["macro-F1"] == summary.best["val_macro_f1"]
    seg = report.segmentation_table(runs, background_share=0.88)
    for name in SEG_IOU:
        s = RunLog(paths.run_dir(name)).summary()
        row = seg.loc[run_table.get(name).short]
        assert (row["IoU"], row["Dice"], row["pixel accuracy"]) == (
            s.best["val_iou"],
            s.best["val_dice"],
            s.best["val_pixel_acc"],
        )
        # the one definition of training time: the logged epochs' seconds (3 × 200 s)
        assert row["обучение, мин"] == RunLog(paths.run_dir(name)).training_minutes() == 10.0
    trivial = seg.loc[report.tables.TRIVIAL]
    assert (trivial["IoU"], trivial["Dice"], trivial["pixel accuracy"]) == (0.0, 0.0, 0.88)
    assert report.describe_data(runs["unet_base"]).startswith("сгенерированная замена")
    assert (
        report.describe_data(runs["classifier"]) == "Tiny ImageNet-200: 100\u00a0000 обучение / 10\u00a0000 валидация"
    )
    overview = report.overview(runs)  # one column per run, statuses in words
    short = run_table.get("unet_base").short
    assert overview.loc["обучение, мин", short] == "10.0" and overview.loc["статус", short] == "завершён"
    assert report.tables.devices(runs) == "CPU test: " + ", ".join(r.spec.short for r in runs.values())
    assert list(report.runs_table(runs).columns) == [r.spec.short for r in runs.values()]


def test_conclusions_state_the_logged_numbers(logged):
    paths, _ = logged
    runs = report.load_runs(paths)
    text = report.conclusions(runs, report.segmentation_seeds(paths), background_share=0.88)
    assert "54.49% top-1" in text and "цель" not in text  # no targets the assignment never set
    assert "сгенерированной замене" in text and "**Ограничения.**" in text
    assert "«камней нет нигде» получает 0.880 (доля фона)" in text
    assert "НЕ лучше" not in text and "(+10%)" not in text and "не отличим" not in text  # no template verdicts
    headline = report.headline(runs, report.segmentation_seeds(paths))
    assert "10\u00a0000 изображениях валидации" in headline and "top-1 54.49%" in headline
    assert not set(text.split("\n\n")) & set(headline.split("\n\n"))  # no paragraph of the summary repeated


def test_conclusions_on_different_data_say_they_cannot_be_compared(logged):
    paths, _ = logged
    runs = report.load_runs(paths)
    base = runs["unet_base"]
    runs["unet_base"] = replace(base, summary=replace(base.summary, data=replace(base.data, kind="real")))
    assert "сравнивать их нельзя" in report.conclusions(runs)


def test_figures_and_architecture_tables(logged):
    paths, _ = logged
    runs = report.load_runs(paths)
    classifier = create_model("Classifier128", **SMALL_CLASSIFIER)
    save_weights(paths.weights("classifier"), classifier)
    save_weights(paths.weights("unet_base"), create_model("UNetBase"))
    backbone = create_model("UNetBackbone", classifier_config=classifier.config)
    save_weights(paths.weights("unet_backbone_finetune"), backbone)
    tables = report.architecture_tables(paths, runs)
    assert list(tables) == ["Classifier128", "UNetBase", "UNetBackbone"]
    counts = tables["UNetBase"][["параметров энкодера", "параметров декодера"]].map(
        lambda v: int(v.replace("\u00a0", ""))
    )
    assert counts.to_numpy().sum() == sum(p.numel() for p in create_model("UNetBase").parameters())
    fig = report.plot_segmentation_curves(runs)
    assert len(fig.axes) == 4 and len(fig.axes[1].lines) >= 4 * 2  # train + val per run
    assert "разморозка энкодера B (энкодер дообучается)" in fig._suptitle.get_text()  # the logged unfreeze epoch
    assert report.plot_classifier_curves(runs["classifier"]).axes

    models = report.load_segmentation_models(paths)
    assert set(models) == {"unet_base", "unet_backbone_finetune"}
    images = torch.randint(0, 255, (12, 3, 32, 32), dtype=torch.uint8)
    masks = (torch.arange(12).view(12, 1, 1, 1) > torch.rand(1, 1, 32, 32) * 12).to(torch.uint8)
    picks = report.pick_examples(masks, n=5)
    shares = masks.float().mean(dim=(1, 2, 3))[picks]
    assert len(set(picks)) == 5 and torch.all(shares[1:] >= shares[:-1])  # from few rocks to many
    probs = {name: torch.rand(12, 1, 32, 32) for name in models}
    fig = report.compare_masks(images, masks, probs, picks, labels={n: runs[n].spec.short for n in probs})
    assert len(fig.axes) == 5 * (2 + len(models))


def test_real_check_table_and_figure_from_evaluations():
    masks = torch.zeros(4, 1, 128, 128, dtype=torch.uint8)
    masks[:, :, 20:40, 20:40] = 1
    images = torch.randint(0, 255, (4, 3, 128, 128), dtype=torch.uint8)

    class Perfect(torch.nn.Module):
        def forward(self, x):
            return (masks[: len(x)].float() * 2 - 1) * 20

    ev = evaluate_models({"a": Perfect()}, images, masks, select_runtime("cpu", "fp32", verbose=False))
    assert ev["a"]["metrics"]["iou"] == pytest.approx(1.0) and np.median(ev["a"]["per_image_iou"]) == 1.0
    rocks, found = ev["a"]["rock_counts"]  # per image and size class: one rock of 400 px each, found
    assert rocks.tolist() == found.tolist() == [[0, 0, 0, 1]] * 4
    assert ev["a"]["rock_recall"][-1] == {"size": "≥ 200 px", "rocks": 4, "found": 1.0}
    fig = report.per_image_iou_figure(ev, {"a": "model A"}, "t")
    assert fig.axes[0].get_ylabel() == "IoU снимка"
