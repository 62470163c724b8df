"""Run logs written for tests through the same typed records the engine writes (tinyseg.runlog), and
segmentation runs trained for tests the way a notebook trains them."""

from tinyseg.runlog import DataRecord, RunConfig, RunInfo, RunLog, RunSummary, TrainConfig
from tinyseg.runs import RunSpec


def tiny_unet(name: str, seeds: int) -> RunSpec:
    """A tiny plain U-Net trained for one step per seed (a few seconds per seed)."""
    return RunSpec(
        name,
        "A tiny plain U-Net",
        "Tiny",
        "tab:gray",
        "02_unet_base.ipynb",
        "segmentation",
        "UNetBase",
        model_args={"channels": (4, 8, 8, 8, 8)},
        recipe_overrides={"epochs": 1, "batch_size": 2, "max_steps_per_epoch": 1},
        seeds=seeds,
    )


# A run table of the tests' own, with names unlike the project's (the code must find runs by their roles):
# a classifier, a plain U-Net and a fine-tuned backbone U-Net, two seeds each U-Net.
CLS = RunSpec("cls", "A classifier", "Cls", "tab:purple", "01_classifier.ipynb", "classification", "Classifier128")
PLAIN = RunSpec(
    "plain", "A plain U-Net", "Plain", "tab:gray", "02_unet_base.ipynb", "segmentation", "UNetBase", seeds=2
)
TUNED = RunSpec(
    "tuned",
    "A fine-tuned backbone U-Net",
    "Tuned",
    "tab:red",
    "03_unet_backbone.ipynb",
    "segmentation",
    "UNetBackbone",
    encoder_from="cls",
    init="pretrained",
    frozen=True,
    unfreeze_at=0.25,
    seeds=2,
)


def write_finished_run(
    paths, name, history, *, params=(1000, 400), spec=None, data=None, profile="cpu", device="cpu (test)"
) -> RunLog:
    """A completed run ``name`` whose epochs are ``history`` (the best by ``val_iou`` or ``val_top1``)."""
    monitor = "val_top1" if "val_top1" in history[-1] else "val_iou"
    data = DataRecord(**data) if isinstance(data, dict) else data
    info = RunInfo(profile, 0, data or DataRecord("test", "generated", "$DATA_DIR/test", 1, 1), {}, spec or {})
    log = RunLog(paths.run_dir(name))
    log.start(
        RunConfig(
            TrainConfig(run=name, epochs=len(history), lr=0.1, monitor=monitor, mode="max"), {}, {}, 1, 1, {}, info
        )
    )
    for record in history:
        log.append_metrics(record)
    best = max(history, key=lambda r: r[monitor])
    log.write_summary(
        RunSummary(
            run=name,
            status="completed",
            best_epoch=best["epoch"],
            best=best,
            epochs_run=len(history),
            epochs_planned=len(history),
            params_total=params[0],
            params_trainable=params[1],
            device=device,
            wall_time_s=float(sum(r["seconds"] for r in history)),
            profile=profile,
            seed=0,
            data=data,
            monitor=monitor,
        )
    )
    return log


def train_segmentation(spec, session, data, seed: int = 0, **kwargs):
    """``segment.train`` of ``spec`` on ``data`` from a model built (and seeded) as the notebooks build it; quiet."""
    from tinyseg import segment

    model = segment.build_model(spec, session, data, seed=seed)
    return segment.train(spec, model, data, session, live=False, seed=seed, **kwargs)
