"""One-off migration (kept as the record of how it was done): give the committed runs' ``config.json`` the
run signature and the whole resolved recipe that this version of the project compares on resume and reuse.

Older logs recorded part of the recipe (``info.recipe``) and the train config; the augmentation
parameters, batch sizes of validation and the encoder's unfreeze epoch / LR scale lived in code
defaults and the run table. For each run this script rebuilds the run's recipe with today's code
(:func:`tinyseg.recipes.recipe_for`), **checks every value the old log recorded against it** (and the
train config derived from it against the logged one), and only then writes the signature. Any
disagreement stops it with the field named: such a run was made differently and must be retrained.

    python tools/add_run_signatures.py            # check and write
    python tools/add_run_signatures.py --check    # check only
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from tinyseg import runs as run_table
from tinyseg.paths import get_paths
from tinyseg.recipes import ClassifyRecipe, recipe_for, signature
from tinyseg.runlog import RunConfig, RunLog, _jsonable, file_sha256, read_json, write_json


def recorded_recipe_values(recipe, old: dict) -> dict:
    """The old log's recipe fields, each mapped to the new recipe's value for the same knob."""
    pairs = {}
    for key, value in old.items():
        if key == "crop_scale":
            pairs[key] = (value, list(recipe.augment.scale))
        elif key == "jitter":
            pairs[key] = (value, recipe.augment.jitter)
        else:
            pairs[key] = (value, _jsonable(getattr(recipe, key)))
    return pairs


def add_run_and_encoder(run_dir, raw: dict, write: bool) -> str:
    """Second step (the signature gained the run-table entry and the encoder checkpoint's sha256): both are
    checked against what the run logged — its ``info.spec`` and the encoder run's recorded weights hash."""
    sig = raw["signature"]
    if "run" in sig and "encoder_weights" in sig:
        return "has a signature already"
    paths = get_paths()
    spec = run_table.get(run_dir.name.split("-seed")[0])
    info = raw["info"]
    training = _jsonable(spec.training(info["recipe"]["epochs"]))
    if _jsonable(info["spec"]) != training:
        raise SystemExit(f"{run_dir}: its logged run-table entry {info['spec']} differs from today's {training}")
    encoder = ""
    if spec.encoder_from:
        encoder = file_sha256(paths.weights(spec.encoder_from))
        logged = RunLog(paths.run_dir(spec.encoder_from)).summary().weights_sha256
        if encoder != logged:
            raise SystemExit(f"{run_dir}: the encoder checkpoint is not the one its run logged")
    raw["signature"] = {**sig, "run": training, "encoder_weights": encoder}
    RunConfig.from_json(raw, str(run_dir / "config.json"))
    if write:
        write_json(run_dir / "config.json", raw)
    return "run entry and encoder hash added" if write else "consistent"


def migrate(run_dir, write: bool) -> str:
    raw = read_json(run_dir / "config.json")
    if "signature" in raw:
        return add_run_and_encoder(run_dir, raw, write)
    name = run_dir.name.split("-seed")[0]
    spec = run_table.get(name)
    info = raw["info"]
    recipe = recipe_for(spec, info["profile"])
    problems = [
        f"recipe.{k}: logged {a!r}, recipe {b!r}"
        for k, (a, b) in recorded_recipe_values(recipe, info["recipe"]).items()
        if _jsonable(a) != b
    ]
    if not isinstance(recipe, ClassifyRecipe) and info["spec"]["unfreeze_epoch"] != recipe.unfreeze_epoch:
        problems.append(f"unfreeze_epoch: logged {info['spec']['unfreeze_epoch']}, recipe {recipe.unfreeze_epoch}")
    train = _jsonable(asdict(recipe.train_config(raw["train"]["run"], info["seed"])))
    old_train = raw["train"]
    problems += [
        f"train.{k}: logged {old_train[k]!r}, derived {train[k]!r}"
        for k in old_train
        if k != "momentum" and old_train[k] != train[k]
    ]
    if old_train["optimizer"] == "sgd" and old_train["momentum"] != train["momentum"]:
        problems.append(f"train.momentum: logged {old_train['momentum']}, derived {train['momentum']}")
    if old_train["optimizer"] == "adamw" and old_train["momentum"] != train["betas"][0]:  # it was AdamW's beta1
        problems.append(f"train.betas[0]: logged momentum {old_train['momentum']}, derived {train['betas'][0]}")
    if raw["batch_size"] != recipe.batch_size:
        problems.append(f"batch_size: logged {raw['batch_size']}, recipe {recipe.batch_size}")
    if problems:
        raise SystemExit(f"{run_dir}: made differently from its recipe today: " + "; ".join(problems))
    raw["train"] = train
    raw["info"]["recipe"] = recipe.as_dict()
    raw["signature"] = signature(recipe, raw["model"], info["data"]["identity"], info["seed"])
    return add_run_and_encoder(run_dir, raw, write)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check only, write nothing")
    args = parser.parse_args(argv)
    paths = get_paths()
    for run_dir in sorted(p for p in paths.runs_dir.iterdir() if (p / "config.json").is_file()):
        print(f"{paths.relative(run_dir)}: {migrate(run_dir, not args.check)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
