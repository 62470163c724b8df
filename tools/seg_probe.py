"""Integration designs of UNetBackbone, measured: a short, fixed-budget probe per design.

    python tools/seg_probe.py NAME '{"model_args": {"input_scale": 2}}' [--run unet_backbone_finetune] [--epochs 8]
    python tools/seg_probe.py NAME '{"recipe_overrides": {"lr": 0.004}}' --run unet_base   # a recipe field

Trains the run ``--run`` of the run table with the given changes to its
:class:`~tinyseg.runs.RunSpec` (model arguments, unfreeze share, encoder learning-rate scale)
on the default moon data (the generated stand-in when the real set is absent), the cpu recipe
cut to ``--epochs`` epochs, the project's fixed 80/20 split, seed 0. The best epoch's validation
IoU is the probe's result; one JSON line is appended to ``docs/seg_probes.jsonl``. Logs and
weights go to ``$DATA_DIR/probes/seg/NAME/`` (never committed).

Only the stand-in's validation pairs are measured: the real check set is not used to choose a design.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from tinyseg import runs, segment
from tinyseg.device import cpu_name, select_runtime
from tinyseg.models import count_parameters
from tinyseg.paths import get_paths
from tinyseg.session import Session

LOG = Path(__file__).resolve().parents[1] / "docs" / "seg_probes.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("changes", nargs="?", default="{}", help="RunSpec fields as JSON")
    parser.add_argument("--run", default="unet_backbone_finetune")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    base = get_paths()
    folder = base.data_dir / "probes" / "seg" / args.name
    paths = replace(base, weights_dir=folder / "weights", runs_dir=folder / "runs")
    changes = json.loads(args.changes)
    template = runs.get(args.run)
    overrides = changes.pop("recipe_overrides", {})  # e.g. {"lr": 0.002}: merged into the run's own
    spec = replace(
        template,
        name=f"probe_{args.name}",
        **changes,
        recipe_overrides={**template.recipe_overrides, **overrides, "epochs": args.epochs, "patience": None},
    )
    changes = {**changes, **({"recipe_overrides": overrides} if overrides else {})}  # as logged
    segment.link_encoder(paths, base, spec)  # the run signature hashes the encoder's checkpoint through ``paths``
    session = Session("cpu", 0, select_runtime(verbose=False), paths)
    data = segment.load_data(replace(session, paths=base))
    # the encoder's weights come from the project's weights/
    model = segment.build_model(spec, replace(session, paths=base), data, seed=session.seed)
    t0 = time.time()
    state = segment.train(spec, model, data, session, live=False)
    minutes = (time.time() - t0) / 60
    best = next(r for r in state.history if r["epoch"] == state.best_epoch)
    result = {
        "name": args.name,
        "run": args.run,
        "changes": changes,
        "model_args": spec.model_args,
        "unfreeze_epoch": spec.unfreeze_epoch(args.epochs),
        "encoder_lr_scale": spec.encoder_lr_scale,
        "epochs": args.epochs,
        "best_epoch": state.best_epoch,
        "val_iou": best["val_iou"],
        "last_val_iou": state.history[-1]["val_iou"],
        "minutes": round(minutes, 2),
        "params": count_parameters(model)[0],
        "data": data.pairs.source.kind,
        "data_location": base.relative(data.pairs.source.location),
        "device": cpu_name(),
        "date": time.strftime("%Y-%m-%d"),
    }
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(result, ensure_ascii=False) + "\n")
    print(json.dumps({k: result[k] for k in ("name", "val_iou", "best_epoch", "minutes")}))


if __name__ == "__main__":
    main()
