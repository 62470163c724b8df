"""The budget curve read from run logs: the run's own seed 0 and its budget runs (runs/budget/<run>-e<epochs>),
IoU from the per-image counts of the test set (or, labelled, validation)."""

from run_logs import write_finished_run

from tinyseg.paths import get_paths
from tinyseg.report import budget
from tinyseg.runlog import write_json
from tinyseg.runs import RUNS


def _run(paths, folder, epochs, counts):
    history = [{"epoch": e, "val_iou": 0.5, "seconds": 30.0} for e in range(1, epochs + 1)]
    write_finished_run(paths, folder, history)
    write_json(paths.run_dir(folder) / "overlaps.json", counts)


def test_points_table_and_figure(tmp_path):
    paths = get_paths(env={"RUNS_DIR": str(tmp_path / "runs")}, root=tmp_path)
    spec = RUNS["unet_base"]
    test = {"pairs": ["0000", "0001"], "intersection": [3, 1], "union": [4, 4]}
    val = {"pairs": ["0002"], "intersection": [1], "union": [2]}
    _run(paths, "unet_base", 24, {"val": val, "test": test})
    _run(paths, f"{budget.BUDGET_DIR}/unet_base-e8", 8, {"val": val})  # logged without test counts
    _run(paths, f"{budget.BUDGET_DIR}/unet_backbone_finetune-e8", 8, {"val": val, "test": test})  # another run
    points = budget.budget_points(paths, [spec])
    assert [(p.epochs, p.which, round(p.iou, 3), p.minutes) for p in points] == [
        (8, "val", 0.5, 4.0),
        (24, "test", 0.5, 12.0),
    ]
    table = budget.budget_table(points, [spec])
    assert table.loc[spec.short, "24 эпох: IoU (тест)"] == "0.500"
    assert table.loc[spec.short, "8 эпох: IoU (валидация (теста нет))"] == "0.500"
    fig = budget.budget_figure(points, [spec])
    assert [ax.get_xlabel() for ax in fig.axes] == ["эпох обучения", "минут обучения"]


def _points(base: dict, b: dict) -> list:
    return [
        budget.BudgetPoint(run, e, float(e), iou, "test", f"runs/{run}")
        for run, ious in (("unet_base", base), ("unet_backbone_finetune", b))
        for e, iou in ious.items()
    ]


def test_the_summary_says_whether_the_gap_survives_shrinks_or_closes():
    b, base = RUNS["unet_backbone_finetune"], RUNS["unet_base"]
    survives = budget.budget_summary(_points({8: 0.5, 24: 0.6, 48: 0.615}, {8: 0.6, 24: 0.65, 48: 0.66}), b, base, 24)
    assert "+0.100 при 8 эпохах, +0.050 при 24 эпохах, +0.045 при 48 эпохах" in survives
    assert "При 48 эпохах разница сохраняется" in survives
    shrinks = budget.budget_summary(_points({8: 0.5, 24: 0.6, 48: 0.64}, {8: 0.6, 24: 0.65, 48: 0.66}), b, base, 24)
    assert "сокращается, но остаётся" in shrinks
    closes = budget.budget_summary(_points({8: 0.5, 24: 0.6, 48: 0.655}, {8: 0.6, 24: 0.65, 48: 0.66}), b, base, 24)
    assert "закрывается" in closes
    flips = budget.budget_summary(_points({24: 0.6, 48: 0.68}, {24: 0.65, 48: 0.66}), b, base, 24)
    assert "закрывается" in flips and "-0.020 при 48 эпохах" in flips
    assert "пока нет" in budget.budget_summary(_points({8: 0.5}, {8: 0.6}), b, base, 24)
