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
