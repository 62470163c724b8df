"""How a generator style moves UNetBase on real renders: a short, fixed-budget probe.

    python tools/generator_probe.py NAME '{"sun_elevation": [15, 55]}' [--n 400] [--epochs 12] [--version 1]

Generates ``n`` pairs (seed 0) with generator version ``--version`` and the given changes to its
:class:`~tinyseg.data.lunar_synth.Style`, trains UNetBase on them (the cpu recipe, ``--epochs`` epochs,
80/20 split), and evaluates the best epoch on its own validation pairs and, zero-shot, on the real
check set (cleaned masks). Everything goes to ``$DATA_DIR/probes/NAME/``; one JSON line per probe is
appended to ``$DATA_DIR/probes/results.jsonl``. The check set is only measured, never trained on.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace

from tinyseg import runs, segment
from tinyseg.data import Source, lunar_synth, moon
from tinyseg.device import select_runtime
from tinyseg.inference import evaluate_models
from tinyseg.paths import get_paths
from tinyseg.runlog import write_json
from tinyseg.session import Session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("changes", nargs="?", default="{}", help="Style fields as JSON")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--version", type=int, default=1, help="the generator version the changes apply to")
    args = parser.parse_args()
    base = get_paths()
    folder = base.data_dir / "probes" / args.name
    paths = replace(base, weights_dir=folder / "weights", runs_dir=folder / "runs")
    style = replace(
        lunar_synth.STYLES[args.version],
        **{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.changes).items()},
    )
    t0 = time.time()
    lunar_synth.generate(folder / "data", n=args.n, seed=0, style=style)
    minutes_generate = (time.time() - t0) / 60

    pairs = moon.load(Source(moon.NAME, "generated", folder / "data"), paths)
    check = moon.load(moon.locate_check(paths), paths)
    data = segment.SegmentData(pairs, moon.make_split(pairs), check)
    spec = runs.RunSpec(
        f"probe_{args.name}",
        f"probe {args.name}",
        args.name,
        "k",
        "—",
        "segmentation",
        "UNetBase",
        recipe_overrides={"epochs": args.epochs, "patience": None},
    )
    runs.RUNS[spec.name] = spec
    session = Session("cpu", 0, select_runtime(verbose=False), paths)
    model = segment.build_model(spec, session, data, seed=session.seed)
    t0 = time.time()
    state = segment.train(spec, model, data, session, live=False)
    minutes_train = (time.time() - t0) / 60

    own = evaluate_models({"m": model}, *data.val(), session.runtime)["m"]
    real = evaluate_models({"m": model}, check.images, check.masks, session.runtime)["m"]
    result = {
        "name": args.name,
        "version": args.version,
        "changes": json.loads(args.changes),
        "style": asdict(style),
        "pairs": args.n,
        "epochs": args.epochs,
        "best_epoch": state.best_epoch,
        "stand_in_val_iou": own["metrics"]["iou"],
        "real_check_iou": real["metrics"]["iou"],
        "real_check_dice": real["metrics"]["dice"],
        "real_rock_recall": real["rock_recall"],
        "rock_share": float(pairs.rock_fraction().mean()),
        "minutes_generate": minutes_generate,
        "minutes_train": minutes_train,
    }
    write_json(folder / "result.json", result)
    with open(base.data_dir / "probes" / "results.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(result) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("name", "stand_in_val_iou", "real_check_iou", "minutes_generate", "minutes_train")}
        )
    )


if __name__ == "__main__":
    main()
