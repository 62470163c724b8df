"""A short, fixed-budget probe of a Classifier128 recipe: which schedule learns more per CPU-minute.

    python tools/classifier_probe.py NAME '{"epochs": 15, "resolutions": [[1, 64], [14, 128]]}' [--steps 130]

Trains Classifier128 with the cpu recipe plus the given changes (``recipe_overrides``), each epoch cut to
``--steps`` batches of 128 (781 is a full epoch), on the full Tiny ImageNet data, seed 0; then evaluates
the best epoch on all 10,000 val images at 128 px with and without horizontal-flip test-time
augmentation. Logs go to ``$DATA_DIR/probes/classifier/NAME/``; one JSON line per probe is appended
to ``docs/classifier_probes.jsonl`` (committed: notebook 01 shows it as the ablation table).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from tinyseg import classify, runs
from tinyseg.device import select_runtime
from tinyseg.inference import predict
from tinyseg.metrics import evaluate_classifier
from tinyseg.paths import get_paths
from tinyseg.session import Session

RESULTS = "docs/classifier_probes.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument(
        "changes", nargs="?", default="{}", help='recipe fields as JSON (nested: {"augment": {"jitter": 0.2}})'
    )
    parser.add_argument("--steps", type=int, default=130, help="batches per epoch (781 = the full epoch)")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    base = get_paths()
    folder = base.data_dir / "probes" / "classifier" / args.name
    paths = replace(base, weights_dir=folder / "weights", runs_dir=folder / "runs")
    changes = {
        k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
        for k, v in json.loads(args.changes).items()
    }
    spec = replace(
        runs.get(runs.CLASSIFIER),
        name=f"probe_{args.name}",
        recipe_overrides={**changes, "max_steps_per_epoch": args.steps},
    )
    session = Session("cpu", 0, select_runtime(verbose=False), paths)
    recipe = classify.recipe_for(spec, "cpu")
    data = classify.load_data(session)
    model = classify.build_model(spec, session, data)
    t0 = time.time()
    state = classify.train(spec, model, data, session, live=False)
    minutes = sum(r["seconds"] for r in state.history) / 60
    scores = {}
    for flip in (False, True):
        ev = evaluate_classifier(
            predict(model, data.val_x, session.runtime, flip=flip, batch_size=256), data.val_y, data.names
        )
        scores["flip" if flip else "plain"] = ev.metrics
    row = {
        "probe": args.name,
        "changes": json.loads(args.changes),
        "steps_per_epoch": args.steps,
        "epochs": recipe.epochs,
        "images_seen": recipe.epochs * args.steps * recipe.batch_size,
        "train_minutes": round(minutes, 2),
        "wall_minutes": round((time.time() - t0) / 60, 2),
        "best_epoch": state.best_epoch,
        "top1": scores["plain"]["top1"],
        "top5": scores["plain"]["top5"],
        "macro_f1": scores["plain"]["macro_f1"],
        "top1_flip": scores["flip"]["top1"],
        "curve": [(r["epoch"], r.get("size"), round(r["val_top1"], 4)) for r in state.history],
        "epoch_seconds": [(round(r["seconds_train"], 1), round(r["seconds_val"], 1)) for r in state.history],
        "device": session.runtime.describe(),
        "note": args.note,
        "recipe": recipe.as_dict(),
    }
    out = base.root / RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: row[k] for k in ("probe", "train_minutes", "top1", "top1_flip", "top5", "curve")}))


if __name__ == "__main__":
    main()
