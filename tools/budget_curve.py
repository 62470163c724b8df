"""The budget curve: seed 0 of segmentation runs trained as full one-cycle runs at other epoch budgets.

    python tools/budget_curve.py [--runs unet_base unet_backbone_finetune] [--epochs 8 48] [--profile cpu]

Each (run, epochs) is the run table's entry with only the number of epochs changed (the one-cycle schedule
stretched, the unfreeze epoch at the same share of it, no early stopping), trained on the notebooks' data and
split, logged as ``runs/budget/<run>-e<epochs>/`` (config, metrics, summary, overlaps with the test-set counts)
with its weights in ``weights/budget/`` (working files, not committed). The recipe's own budget is the run's
seed 0 itself (notebooks 02/03), so it is not trained again here. A finished point is reused; an interrupted one
resumes. The report reads the logs (:mod:`tinyseg.report.budget`).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from tinyseg import runs, segment
from tinyseg.device import select_runtime
from tinyseg.paths import get_paths
from tinyseg.report.budget import BUDGET_DIR, budget_name
from tinyseg.session import Session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["unet_base", "unet_backbone_finetune"])
    parser.add_argument("--epochs", nargs="+", type=int, default=[8, 48])
    parser.add_argument("--profile", default="cpu")
    args = parser.parse_args()
    base = get_paths()
    paths = replace(base, runs_dir=base.runs_dir / BUDGET_DIR, weights_dir=base.weights_dir / BUDGET_DIR)
    session = Session(args.profile, 0, select_runtime(verbose=False), paths)
    data = segment.load_data(replace(session, paths=base))
    for name in args.runs:
        spec = runs.RUNS[name]
        for epochs in args.epochs:
            variant = replace(
                spec,
                name=budget_name(name, epochs),
                recipe_overrides={**spec.recipe_overrides, "epochs": epochs, "patience": None},
                seeds=1,
            )
            runs.RUNS[variant.name] = variant  # this process only: the run table itself is unchanged
            segment.link_encoder(paths, base, variant)
            t0 = time.time()
            state = segment.train(
                variant, segment.build_model(variant, session, data, seed=0), data, session, live=False
            )
            print(
                f"{variant.name}: {state.status}, best epoch {state.best_epoch} of {state.epoch}, "
                f"{(time.time() - t0) / 60:.1f} min this call",
                flush=True,
            )


if __name__ == "__main__":
    main()
