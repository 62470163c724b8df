"""One-off migration (kept as the record of how it was done): record in each committed run's ``summary.json``
the sha256 of its weights (``weights_sha256``), which the project now checks wherever it loads a run's weights.

Runs logged before this field existed have none. For every ``runs/<run>/summary.json`` whose
``weights/<run>.pt`` exists (the seed-0 runs; the other seeds keep no weights), this script checks that the
checkpoint is that run's best epoch (its ``run`` and ``epoch`` against the summary) and only then adds the
hash after ``weights``, keeping the file's other lines as they are, and checks that the result reads back
(:class:`tinyseg.runlog.RunSummary`, strictly) as the same record plus the hash. It reads ``weights/`` and
rewrites the summaries, nothing more.

    python tools/add_weights_hashes.py            # check and write
    python tools/add_weights_hashes.py --check    # check only
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from tinyseg.paths import Paths, get_paths
from tinyseg.runlog import RunLog, RunSummary, file_sha256, load_weights, read_json, write_json


def migrate(paths: Paths, run_dir: Path, write: bool) -> str:
    log = RunLog(run_dir)
    summary = log.summary()
    if summary is None:
        return "no summary.json"
    weights = paths.weights(log.name)
    if not weights.exists():
        return "no weights (left as it is)"
    if summary.weights != paths.relative(weights):
        raise SystemExit(f"{log.summary_path}: names the weights {summary.weights!r}, not {paths.relative(weights)}")
    digest = file_sha256(weights)
    if summary.weights_sha256:
        if summary.weights_sha256 != digest:
            raise SystemExit(f"{weights}: its sha256 differs from the one {log.summary_path} records")
        return "has its hash already"
    ckpt = load_weights(weights)
    if ckpt.get("run") != log.name or ckpt.get("epoch") != summary.best_epoch:
        raise SystemExit(
            f"{weights} is not the best epoch of {log.name}: it holds run {ckpt.get('run')!r}, epoch "
            f"{ckpt.get('epoch')}; the summary's best epoch is {summary.best_epoch}"
        )
    # the file as it is, with the hash after "weights" (the field order of RunSummary), read back as the record
    raw = read_json(log.summary_path)
    updated = {}
    for key, value in raw.items():
        updated[key] = value
        if key == "weights":
            updated["weights_sha256"] = digest
    if RunSummary.from_json(updated, str(log.summary_path)) != replace(summary, weights_sha256=digest):
        raise SystemExit(f"{log.summary_path}: does not read back as the same record with the hash")
    if write:
        write_json(log.summary_path, updated)
        return f"weights_sha256 {digest[:16]}… written"
    return "consistent"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check only, write nothing")
    args = parser.parse_args(argv)
    paths = get_paths()
    for run_dir in sorted(p for p in paths.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        print(f"{paths.relative(run_dir)}: {migrate(paths, run_dir, write=not args.check)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
