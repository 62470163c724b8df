"""A training process on a tiny synthetic problem, for the real-process interruption tests.

    python toy_training.py ROOT [--signal INT|KILL --at EPOCH:STEP | --at save:EPOCH]

Trains a small CNN with the project's engine (fp32, resume=True) with every location under ROOT.
With ``--signal``, the process sends itself SIGINT or SIGKILL at step STEP of epoch EPOCH, or in the
middle of writing ``last.pt`` after epoch EPOCH (half the bytes written).
"""

import argparse
import os
import signal
import sys

import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from tinyseg import runlog
from tinyseg.data.cache import content_hash
from tinyseg.data.loaders import tensor_loader
from tinyseg.device import select_runtime
from tinyseg.engine import Callback, Objective, RunMeta, TrainConfig, fit
from tinyseg.paths import get_paths


def data(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, 3, 8, 8, generator=g)
    for cls, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        x[y == cls, :, r : r + 4, c : c + 4] += 1.5
    return x, y


class Kill(Callback):
    """Engine callback and loader wrapper that signal this process at the chosen point."""

    def __init__(self, sig, epoch: int, step: int):
        self.sig, self.epoch, self.step, self.current = sig, epoch, step, 0

    def on_epoch_start(self, state):
        self.current = state.epoch

    def wrap(self, loader):
        outer = self

        class Loader:
            def __len__(self):
                return len(loader)

            def __getattr__(self, name):  # batch_size, sampler, ... as the wrapped loader
                return getattr(loader, name)

            def __iter__(self):
                for i, batch in enumerate(loader):
                    if outer.current == outer.epoch and i == outer.step:
                        os.kill(os.getpid(), outer.sig)
                    yield batch

        return Loader()


def kill_while_saving(sig, epoch: int) -> None:
    """Make the write of last.pt after ``epoch`` stop half-way with the signal."""
    real_save = torch.save

    def save(obj, f):
        if isinstance(obj, dict) and "rng" in obj and obj.get("epoch") == epoch:
            real_save(obj, f)
            f.truncate(f.tell() // 2)
            f.flush()
            os.kill(os.getpid(), sig)
        return real_save(obj, f)

    runlog.torch.save = save


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--signal", choices=("INT", "KILL"))
    parser.add_argument("--at", default="")
    args = parser.parse_args(argv)
    # Ctrl-C raises KeyboardInterrupt as in a terminal, even when this process was started with SIGINT
    # ignored (a background job of a non-interactive shell, as in some CI runners)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    paths = get_paths(env={}, root=args.root)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 4)
    )
    model.config = {"name": "toy"}
    seed = int(os.environ.get("TOY_DATA_SEED", 0))  # the tests change data and batch size on resume
    x, y = data(256, seed)
    vx, vy = data(64, seed + 1)
    train = tensor_loader(x, y, batch_size=int(os.environ.get("TOY_BATCH", 32)), shuffle=True, drop_last=True)
    info = runlog.RunInfo(
        "smoke",
        0,
        runlog.DataRecord("toy quadrants", "generated", "$DATA_DIR/toy", len(y), len(vy), content_hash(x, y, vx, vy)),
        recipe={},
        spec={},
    )
    callbacks = []
    if args.signal:
        sig = signal.SIGINT if args.signal == "INT" else signal.SIGKILL
        where, _, when = args.at.partition(":")
        if where == "save":
            kill_while_saving(sig, int(when))
        else:
            killer = Kill(sig, int(where), int(when))
            train = killer.wrap(train)
            callbacks.append(killer)
    cfg = TrainConfig(run="toy", epochs=4, lr=0.05, monitor="val_acc", mode="max", schedule="cosine")
    state = fit(
        model,
        train,
        tensor_loader(vx, vy, batch_size=64, shuffle=False),
        cfg=cfg,
        objective=Objective(
            nn.functional.cross_entropy, MetricCollection({"acc": MulticlassAccuracy(4, average="micro")})
        ),
        runtime=select_runtime("cpu", "fp32", channels_last=False, verbose=False),
        paths=paths,
        callbacks=callbacks,
        meta=RunMeta(info),
        resume=True,
    )
    print(f"status {state.status} after {len(state.history)} epochs")
    return 0 if state.status == "completed" else 3


if __name__ == "__main__":
    sys.exit(main())
