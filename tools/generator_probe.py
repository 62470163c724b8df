"""How a generator style moves UNetBase on real renders: a short, fixed-budget probe.

    python tools/generator_probe.py NAME '{"sun_elevation": [15, 55]}' [--n 400] [--epochs 12] [--version 2]
        [--augment '{"gamma": 0.4}'] [--train-seed 0]

Generates ``n`` pairs (seed 0) with generator version ``--version`` and the given changes to its
:class:`~tinyseg.data.lunar_synth.Style`, trains UNetBase on them (the cpu recipe with the given changes
to its augmentation, ``--epochs`` epochs, 80/20 split), and evaluates the best epoch (validation IoU) on its own
validation pairs and, zero-shot, on the **tuning half** of the real check set only (cleaned masks; the
test half is never looked at by a probe). Weights and logs go to ``$DATA_DIR/probes/NAME/``, the pairs to ``$DATA_DIR/probes/data/<style hash>/``; one JSON
line per probe, with its setup, is appended to ``docs/generator_probes.jsonl``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from tinyseg import runs, segment
from tinyseg.data import Source, lunar_synth, moon
from tinyseg.device import cpu_name, select_runtime
from tinyseg.inference import evaluate_models
from tinyseg.paths import get_paths, project_root
from tinyseg.runlog import write_json
from tinyseg.session import Session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("changes", nargs="?", default="{}", help="Style fields as JSON")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--version", type=int, default=2, help="the generator version the changes apply to")
    parser.add_argument("--augment", default="{}", help="SegmentAugment fields as JSON (the recipe's augmentation)")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=project_root() / "docs" / "generator_probes.jsonl")
    args = parser.parse_args()
    base = get_paths()
    folder = base.data_dir / "probes" / args.name
    paths = replace(base, weights_dir=folder / "weights", runs_dir=folder / "runs")
    style = replace(
        lunar_synth.STYLES[args.version],
        **{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.changes).items()},
    )
    t0 = time.time()
    data_dir = base.data_dir / "probes" / "data" / hashlib.sha256(f"{style!r}|{args.n}".encode()).hexdigest()[:12]
    lunar_synth.generate(data_dir, n=args.n, seed=0, style=style, wait=0)  # probes of one style share it
    minutes_generate = (time.time() - t0) / 60

    pairs = moon.load(Source(moon.NAME, "generated", data_dir), paths)
    check = moon.load(moon.locate_check(paths), paths)
    data = segment.SegmentData(pairs, moon.make_split(pairs), None)  # the check set is evaluated below
    spec = runs.RunSpec(
        f"probe_{args.name}",
        f"probe {args.name}",
        args.name,
        "k",
        "—",
        "segmentation",
        "UNetBase",
        recipe_overrides={"epochs": args.epochs, "patience": None, "augment": json.loads(args.augment)},
    )
    runs.RUNS[spec.name] = spec
    session = Session("cpu", args.train_seed, select_runtime(verbose=False), paths)
    model = segment.build_model(spec, session, data, seed=session.seed)
    t0 = time.time()
    state = segment.train(spec, model, data, session, live=False)
    minutes_train = (time.time() - t0) / 60

    own = evaluate_models({"m": model}, *data.val(), session.runtime)["m"]
    tuning = moon.check_half_indices(check.numbers, "tuning")
    real = evaluate_models({"m": model}, check.images[tuning], check.masks[tuning], session.runtime)["m"]
    recall = real["rock_recall"]
    large = [r for r in recall if not r["size"].startswith("1–")]
    result = {
        "name": args.name,
        "version": args.version,
        "changes": json.loads(args.changes),
        "augment": json.loads(args.augment),
        "train_seed": args.train_seed,
        "setup": f"UNetBase, cpu recipe, {args.epochs} epochs, {args.n} pairs (seed 0, 80/20), best epoch; "
        "real: tuning half of the check set (36 pairs), cleaned masks, threshold 0.5",
        "style": asdict(style),
        "pairs": args.n,
        "epochs": args.epochs,
        "best_epoch": state.best_epoch,
        "stand_in_val_iou": own["metrics"]["iou"],
        "real_tuning_iou": real["metrics"]["iou"],
        "real_tuning_dice": real["metrics"]["dice"],
        "real_tuning_pixel_acc": real["metrics"]["pixel_acc"],
        "real_tuning_rock_recall": recall,
        "real_tuning_found_ge10px": sum(r["found"] * r["rocks"] for r in large)
        / max(sum(r["rocks"] for r in large), 1),
        "rock_share": float(pairs.rock_fraction().mean()),
        "minutes_generate": minutes_generate,
        "minutes_train": minutes_train,
        "device": cpu_name(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_json(folder / "result.json", result)
    with open(args.out, "a", encoding="utf-8") as f:
        f.write(json.dumps(result) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "name",
                    "stand_in_val_iou",
                    "real_tuning_iou",
                    "real_tuning_found_ge10px",
                    "rock_share",
                    "minutes_generate",
                    "minutes_train",
                )
            }
        )
    )


if __name__ == "__main__":
    main()
