"""The training engine on a tiny synthetic image-classification problem."""

import copy
import json
import math
import re

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from tinyseg import runlog
from tinyseg.device import select_runtime
from tinyseg.engine import Callback, NonFiniteLossError, Objective, RunMeta, TrainConfig, fit
from tinyseg.freeze import UnfreezeAt, set_trainable

CLASSES = 4
FP32 = select_runtime("cpu", "fp32", verbose=False)


def make_data(n, seed):
    """8×8 RGB noise with a brighter quadrant that names the class."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, CLASSES, (n,), generator=g)
    x = torch.randn(n, 3, 8, 8, generator=g)
    for cls, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        x[y == cls, :, r : r + 4, c : c + 4] += 1.5
    return TensorDataset(x, y)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
        )
        self.head = nn.Linear(8 * 4 * 4, CLASSES)
        self.config = {"name": "TinyNet"}

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


def loaders(batch=32):
    return (DataLoader(make_data(256, 0), batch_size=batch, shuffle=True), DataLoader(make_data(128, 1), batch_size=64))


def metrics():
    return MetricCollection({"acc": MulticlassAccuracy(CLASSES, average="micro")})


def run(paths, cfg, model=None, runtime=FP32, **kw):
    torch.manual_seed(123)
    model = model or TinyNet()
    train, val = loaders()
    state = fit(
        model,
        train,
        val,
        cfg=cfg,
        objective=Objective(nn.functional.cross_entropy, metrics()),
        runtime=runtime,
        paths=paths,
        **kw,
    )
    return model, state


def cfg(**kw):
    base = dict(run="toy", epochs=4, lr=0.05, monitor="val_acc", mode="max", schedule="cosine", warmup=0.1)
    return TrainConfig(**{**base, **kw})


class Snapshots(Callback):
    """Copies of the model and optimizer state after every epoch (and at the start)."""

    def __init__(self):
        self.models, self.optims, self.at_start, self.model_at_start = {}, {}, None, None

    def on_fit_start(self, state):
        self.at_start = copy.deepcopy(state.optimizer.state_dict())
        self.model_at_start = copy.deepcopy(state.model.state_dict())

    def on_epoch_end(self, state, record):
        self.models[state.epoch] = copy.deepcopy(state.model.state_dict())
        self.optims[state.epoch] = copy.deepcopy(state.optimizer.state_dict())


class InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_start(self, state):
        if state.epoch == self.epoch:
            raise KeyboardInterrupt


def assert_same_state(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same_state(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_state(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def test_it_learns_in_bf16_with_channels_last(tmp_paths):
    runtime = select_runtime("cpu", verbose=False)  # bf16 where this CPU has it
    model, state = run(tmp_paths, cfg(epochs=5, lr=0.1), runtime=runtime)
    hist = state.history
    assert hist[-1]["train_loss"] < 0.5 * hist[0]["train_loss"]
    assert max(r["val_acc"] for r in hist) > 0.9  # chance is 0.25
    assert state.status == "completed"


def test_logs_have_the_documented_fields(tmp_paths):
    data = runlog.DataRecord("toy quadrants", "generated", "$DATA_DIR/toy", train=256, val=128)
    run(tmp_paths, cfg(epochs=2), meta=RunMeta(runlog.RunInfo("smoke", 0, data, recipe={"batch_size": 32}, spec={})))
    log = runlog.RunLog(tmp_paths.run_dir("toy"))
    config = log.config()
    assert config.train.lr == 0.05 and config.train.epochs == 2
    assert config.model == {"name": "TinyNet"} and config.info.data.dataset == "toy quadrants"
    assert config.info.recipe == {"batch_size": 32}
    assert config.runtime["precision"] == "fp32"
    assert config.signature["batch_size"] == 32 and config.signature["train"]["lr"] == 0.05
    raw = json.loads(log.config_path.read_text())
    assert runlog.RunConfig.from_json(raw) == config  # written and read through the same record
    records = log.metrics()
    assert [r["epoch"] for r in records] == [1, 2]
    for r in records:
        assert {
            "epoch",
            "lr",
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "seconds",
            "seconds_train",
            "seconds_val",
        } <= r.keys()
        assert r["seconds"] > 0 and r["lr"] > 0
    summary = log.summary()
    assert summary.status == "completed" and log.is_finished()
    assert summary.best_epoch == max(records, key=lambda r: r["val_acc"])["epoch"]  # the first best epoch
    assert summary.best["val_acc"] == max(r["val_acc"] for r in records)
    assert summary.params_total == sum(p.numel() for p in TinyNet().parameters())
    assert summary.params_trainable == summary.params_total
    assert summary.data == data
    assert summary.profile == "smoke" and summary.seed == 0 and summary.weights == "weights/toy.pt"
    assert summary.precision == "fp32" and "cpu" in summary.device
    assert summary.wall_time_s >= sum(r["seconds"] for r in records) * 0.9
    assert not list(tmp_paths.run_dir("toy").glob("*.tmp"))


def test_val_metrics_are_accumulated_over_the_whole_set(tmp_paths):
    """Two batches of different size: the accumulated accuracy is not the mean of batch accuracies."""
    from tinyseg.engine import evaluate

    class Fixed(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :CLASSES]

    x = torch.zeros(5, CLASSES)
    x[:, 0] = 1  # always predicts class 0
    y = torch.tensor([0, 1, 1, 1, 0])  # batch 1 (4 items): 1/4 right; batch 2 (1 item): 1/1
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    out = evaluate(Fixed(), loader, Objective(nn.functional.cross_entropy, metrics()), FP32)
    assert out["acc"] == pytest.approx(2 / 5)


def test_best_checkpoint_is_the_best_epoch(tmp_paths):
    snaps = Snapshots()
    model, state = run(tmp_paths, cfg(epochs=4, lr=0.3), callbacks=[snaps])
    best = max(state.history, key=lambda r: r["val_acc"])["epoch"]
    payload = torch.load(tmp_paths.weights("toy"), weights_only=True)  # state_dict + config, no optimizer
    assert set(payload) == {"state_dict", "config", "run", "epoch", "metrics"}
    assert payload["epoch"] == best == state.best_epoch
    assert payload["config"] == {"name": "TinyNet"}
    assert_same_state(payload["state_dict"], snaps.models[best])
    # fit() leaves the best weights in the model
    assert_same_state({k: v.contiguous() for k, v in model.state_dict().items()}, snaps.models[best])


def test_resume_continues_where_it_stopped(tmp_paths):
    full = Snapshots()
    _, reference = run(tmp_paths, cfg(run="full"), callbacks=[full])

    _, stopped = run(tmp_paths, cfg(run="cut"), callbacks=[InterruptAt(3)])
    assert stopped.status == "interrupted" and len(stopped.history) == 2
    assert runlog.RunLog(tmp_paths.run_dir("cut")).summary().status == "interrupted"

    resumed_snaps = Snapshots()
    _, resumed = run(tmp_paths, cfg(run="cut"), callbacks=[resumed_snaps], resume=True)
    # the optimizer continues with exactly the state it had after epoch 2
    assert_same_state(resumed_snaps.at_start, full.optims[2])
    assert resumed.status == "completed"
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    for a, b in zip(reference.history, resumed.history):
        assert {k: v for k, v in a.items() if not k.startswith("seconds")} == {
            k: v for k, v in b.items() if not k.startswith("seconds")
        }
    assert_same_state(resumed_snaps.models[4], full.models[4])
    assert [r["epoch"] for r in runlog.RunLog(tmp_paths.run_dir("cut")).metrics()] == [1, 2, 3, 4]


def test_resume_refuses_a_different_config(tmp_paths):
    run(tmp_paths, cfg(run="a", epochs=2), callbacks=[InterruptAt(2)])
    with pytest.raises(ValueError, match=r"cannot resume .*last.pt.*train.lr: 0.05 → 0.5"):
        run(tmp_paths, cfg(run="a", epochs=2, lr=0.5), resume=True)


def test_a_finished_run_without_last_pt_is_reused_not_retrained(tmp_paths):
    """A fresh clone has the committed logs and best weights but no last.pt: resume keeps them."""
    _, first = run(tmp_paths, cfg(run="done", epochs=2))
    log = runlog.RunLog(tmp_paths.run_dir("done"))
    log.last_path.unlink()
    before = {p.name: p.read_bytes() for p in (log.summary_path, log.metrics_path, tmp_paths.weights("done"))}
    snaps = Snapshots()
    model, again = run(tmp_paths, cfg(run="done", epochs=2), callbacks=[snaps], resume=True)
    assert snaps.models == {}  # no epoch trained
    assert again.status == "completed" and again.best_epoch == first.best_epoch
    assert again.history == log.metrics()
    assert {p.name: p.read_bytes() for p in (log.summary_path, log.metrics_path, tmp_paths.weights("done"))} == before
    best = runlog.load_weights(tmp_paths.weights("done"))["state_dict"]
    assert_same_state({k: v.contiguous() for k, v in model.state_dict().items()}, best)
    with pytest.raises(ValueError, match=r"finished run made differently: train.lr: 0.05 → 0.5"):
        run(tmp_paths, cfg(run="done", epochs=2, lr=0.5), resume=True)


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "w.pt"
    runlog.save_torch(target, {"v": torch.ones(3)})

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # as if Ctrl-C arrived mid-write

    monkeypatch.setattr(runlog.torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        runlog.save_torch(target, {"v": torch.zeros(3)})
    monkeypatch.undo()
    assert torch.equal(torch.load(target, weights_only=True)["v"], torch.ones(3))  # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]  # no temporary left behind


def test_non_finite_loss_stops_with_a_clear_message(tmp_paths):
    calls = {"n": 0}

    def loss_fn(out, y):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * math.nan if calls["n"] == 3 else loss

    train, val = loaders()
    with pytest.raises(NonFiniteLossError, match=r"became nan at epoch 1, step 3 of 8"):
        fit(
            TinyNet(),
            train,
            val,
            cfg=cfg(run="nan"),
            objective=Objective(loss_fn, metrics()),
            runtime=FP32,
            paths=tmp_paths,
        )
    summary = json.loads((tmp_paths.run_dir("nan") / "summary.json").read_text())
    assert summary["status"] == "diverged"


def test_early_stopping(tmp_paths):
    _, state = run(
        tmp_paths, cfg(run="flat", epochs=10, lr=0.0, schedule="constant", patience=2, monitor="val_loss", mode="min")
    )
    # lr 0: nothing improves after epoch 1, so epochs 2 and 3 use up the patience
    assert state.status == "early_stopped" and len(state.history) == 3 and state.best_epoch == 1


def test_frozen_part_stays_bit_identical_then_trains_with_its_own_lr(tmp_paths):
    model = TinyNet()
    set_trainable(model.body, False)
    before = copy.deepcopy(model.body.state_dict())  # weights and BN running statistics
    snaps = Snapshots()
    run(tmp_paths, cfg(run="frozen", epochs=2), model=model, callbacks=[snaps])
    for k, v in before.items():
        assert torch.equal(snaps.models[2][f"body.{k}"], v), k
    for k in ("head.weight", "head.bias"):  # the trainable part did train: compared with its weights at fit start
        assert not torch.equal(snaps.models[1][k], snaps.model_at_start[k]), k

    # fine-tuning: frozen for epoch 1, unfrozen from epoch 2 with a 10x lower learning rate
    model = TinyNet()
    set_trainable(model.body, False)
    before = copy.deepcopy(model.body.state_dict())
    snaps = Snapshots()
    _, state = run(
        tmp_paths,
        cfg(run="finetune", epochs=2, lr_scales={"body.": 0.1}),
        model=model,
        callbacks=[UnfreezeAt(model.body, 2), snaps],
    )
    for k, v in before.items():
        assert torch.equal(snaps.models[1][f"body.{k}"], v), k
    assert not torch.equal(snaps.models[2]["body.0.weight"], before["0.weight"])
    assert not torch.equal(snaps.models[2]["body.1.running_mean"], before["1.running_mean"])
    lrs = sorted({g["initial_lr"] for g in state.optimizer.param_groups})
    assert len(lrs) == 2 and lrs[0] == pytest.approx(lrs[1] * 0.1)
    summary = runlog.RunLog(tmp_paths.run_dir("finetune")).summary()
    assert summary.params_trainable == summary.params_total


def test_an_interrupt_between_last_pt_and_the_best_weights_is_repaired_on_resume(tmp_paths, monkeypatch):
    """last.pt is written before the best weights; Ctrl-C between the two leaves the weights one epoch behind,
    never ahead of the logs, and the resume writes the missing best weights from last.pt's model."""
    from tinyseg import engine

    real = engine._Run.save_best

    def interrupted_at_epoch_2(self, record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt
        real(self, record)

    monkeypatch.setattr(engine._Run, "save_best", interrupted_at_epoch_2)
    _, state = run(tmp_paths, cfg(run="gap", epochs=3, monitor="val_loss", mode="min"), resume=True)
    log = runlog.RunLog(tmp_paths.run_dir("gap"))
    assert state.status == "interrupted" and log.summary().epochs_run == 2  # what last.pt holds
    assert runlog.load_weights(tmp_paths.weights("gap"))["epoch"] == 1  # behind, not ahead
    monkeypatch.setattr(engine._Run, "save_best", real)
    _, state = run(tmp_paths, cfg(run="gap", epochs=3, monitor="val_loss", mode="min"), resume=True)
    summary = log.summary()
    assert state.status == "completed" and summary.best_epoch in (2, 3)
    assert runlog.load_weights(tmp_paths.weights("gap"))["epoch"] == summary.best_epoch
    assert summary.weights_sha256 == runlog.file_sha256(tmp_paths.weights("gap"))


EPOCH_LINE = re.compile(r"^(эпоха|\s*\d+/\d+ )")  # the header and the lines of the epochs


def test_a_finished_run_renders_like_a_live_one(tmp_paths, capsys):
    """Met again (beside its last.pt, as right after training, or without it, as in a fresh clone), a finished run
    prints the same epoch lines under the same header as its training did, and nothing of it is written."""
    run(tmp_paths, cfg(run="live", epochs=2), verbose=True)
    live = [line for line in capsys.readouterr().out.splitlines() if EPOCH_LINE.match(line)]
    assert live[0].startswith("эпоха") and len(live) == 3 and "← лучшая" in "".join(live[1:])
    log = runlog.RunLog(tmp_paths.run_dir("live"))
    before = {p.name: p.read_bytes() for p in log.dir.iterdir() if p.is_file()}
    for keep_last in (True, False):
        if not keep_last:
            log.last_path.unlink()
        _, again = run(tmp_paths, cfg(run="live", epochs=2), resume=True, verbose=True)
        out = capsys.readouterr().out
        assert again.status == "completed" and "resumed after" not in out
        assert "запуск уже обучен" in out and f"({tmp_paths.relative(log.metrics_path)})" in out
        shown = [line for line in out.splitlines() if EPOCH_LINE.match(line)]
        # the same lines, the seconds of each epoch as logged
        assert [s.split("  ← ")[0] for s in shown] == [s.split("  ← ")[0] for s in live]
        assert {p.name: p.read_bytes() for p in log.dir.iterdir() if p.is_file() and p != log.last_path} == {
            k: v for k, v in before.items() if k != log.last_path.name
        }
