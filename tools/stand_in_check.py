"""Train runs of the run table on a stand-in version (full recipe) and measure them on the real check set.

    python tools/stand_in_check.py OUT --version 2 --runs unet_base unet_backbone_finetune [--profile cpu]

The stand-in (1,000 pairs, seed 0, generator version ``--version``) is the one ``make run`` would use
with that version; the runs train exactly as in the notebooks (same split, recipe and code) but log to
``OUT/runs`` and ``OUT/weights`` (the classifier checkpoint is taken from ``weights/``), so nothing
committed is touched. Writes ``OUT/result.json``: stand-in validation and real-check metrics per run,
and the generation and training minutes.
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import replace
from pathlib import Path

from tinyseg import runs, segment
from tinyseg.data import lunar_synth, moon
from tinyseg.device import select_runtime
from tinyseg.inference import evaluate_models
from tinyseg.paths import get_paths
from tinyseg.runlog import write_json
from tinyseg.session import Session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--version", type=int, default=lunar_synth.VERSION)
    parser.add_argument("--runs", nargs="+", default=["unet_base"])
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args()
    base = get_paths()
    paths = replace(base, weights_dir=args.out / "weights", runs_dir=args.out / "runs")
    for spec in map(runs.get, args.runs):
        if spec.encoder_from and not paths.weights(spec.encoder_from).exists():
            paths.weights_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(base.weights(spec.encoder_from), paths.weights(spec.encoder_from))

    t0 = time.time()
    source = moon.stand_in(paths, moon.PAIRS[args.profile], moon.STAND_IN_SEED, args.version)
    result = {
        "version": args.version,
        "stand_in": paths.relative(source.location),
        "minutes_generate": (time.time() - t0) / 60,
        "runs": {},
    }
    pairs = moon.load(source, paths)
    check = moon.load(moon.locate_check(paths), paths)
    data = segment.SegmentData(pairs, moon.make_split(pairs), check)
    session = Session(args.profile, 0, select_runtime(verbose=False), paths)
    for spec in map(runs.get, args.runs):
        model = segment.build_model(spec, session, data, seed=session.seed)
        state = segment.train(spec, model, data, session, live=False)
        evaluated = {"stand_in_val": data.val(), "real_check": (check.images, check.masks)}
        row = {"best_epoch": state.best_epoch, "minutes_train": sum(r["seconds"] for r in state.history) / 60}
        for where, (images, masks) in evaluated.items():
            ev = evaluate_models({spec.name: model}, images, masks, session.runtime)[spec.name]
            row[where] = {
                **{k: ev["metrics"][k] for k in ("iou", "dice", "pixel_acc")},
                "rock_recall": ev["rock_recall"],
            }
        result["runs"][spec.name] = row
        write_json(args.out / "result.json", result)
        print(spec.name, {k: round(v["iou"], 3) for k, v in row.items() if isinstance(v, dict)})


if __name__ == "__main__":
    main()
