"""Speed of Classifier128 training and of the data path on this machine.

    python -m tinyseg.bench [--batch 128] [--steps 20]

Prints training throughput (images/s) in fp32 and in bf16 autocast + channels_last (on a GPU:
its autocast dtype), the batched augmentation alone (batches/s) and the resulting minutes per
Tiny ImageNet epoch (100,000 images). Synthetic data: nothing is read from disk.

It also says how close training runs to what the processor can do: the FLOPs of one training
step (forward + backward, counted by torch's ``FlopCounterMode``) times images/s give the achieved
GFLOP/s; the reference is the GFLOP/s of a large matrix product in the same precision on the same
threads (``--gemm``), the best a dense kernel reaches on this machine in practice.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from .data.augment import ClassifyAugment
from .device import cpu_name, select_runtime
from .models import count_macs, count_parameters, create_model

TRAIN_IMAGES = 100_000


def _timed(fn, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps


def train_throughput(model_kwargs: dict, runtime, batch: int, steps: int, warmup: int = 3, size: int = 128) -> float:
    torch.manual_seed(0)
    model = create_model("Classifier128", **model_kwargs).to(runtime.device)
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 3, size, size, device=runtime.device)
    if runtime.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, model_kwargs.get("num_classes", 200), (batch,), device=runtime.device)

    def step():
        with runtime.autocast():
            loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if runtime.device.type == "cuda":
            torch.cuda.synchronize()

    return batch / _timed(step, steps, warmup)


def train_flops_per_image(model_kwargs: dict, size: int = 128) -> float:
    """FLOPs of one training step per image (forward and backward), counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    model = create_model("Classifier128", **model_kwargs)
    x = torch.zeros(2, 3, size, size)
    y = torch.zeros(2, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / 2


def gemm_gflops(runtime, n: int = 2048, steps: int = 10) -> float:
    """GFLOP/s of an n×n by n×n matrix product in the runtime's precision (the practical peak)."""
    dtype = runtime.amp_dtype or torch.float32
    a = torch.randn(n, n, device=runtime.device, dtype=dtype)
    b = torch.randn(n, n, device=runtime.device, dtype=dtype)

    def step():
        a @ b
        if runtime.device.type == "cuda":
            torch.cuda.synchronize()

    return 2 * n**3 / _timed(step, steps, 2) / 1e9


def augment_throughput(runtime, batch: int, steps: int) -> float:
    aug = ClassifyAugment(train=True)
    x = torch.randint(0, 256, (batch, 3, 64, 64), dtype=torch.uint8, device=runtime.device)
    y = torch.zeros(batch, dtype=torch.long, device=runtime.device)
    return 1.0 / _timed(lambda: aug(x, y), steps, 2)


def epoch_estimate(
    throughput: dict[str, float], augment_images_per_s: float, images: int = TRAIN_IMAGES
) -> tuple[float, float]:
    """``(minutes per epoch of `images` images, images/s)`` at the best training throughput (images/s per
    setting) with the augmentation's time added: only throughputs, never another figure (e.g. GFLOP/s)."""
    per_image = 1 / max(throughput.values()) + 1 / augment_images_per_s
    return images * per_image / 60, 1 / per_image


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument(
        "--model",
        type=json.loads,
        default={},
        help="Classifier128 arguments as JSON, e.g. '{\"widths\": [64,128,256,384]}'",
    )
    parser.add_argument("--skip-fp32", action="store_true")
    parser.add_argument("--gemm-size", type=int, default=2048, help="n of the n×n matrix product (the peak)")
    args = parser.parse_args(argv)

    fast = select_runtime(verbose=False)
    model = create_model("Classifier128", **args.model)
    params = count_parameters(model)[0]
    print(f"machine: {cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(
        f"Classifier128 {model.config}: {params / 1e6:.2f}M parameters, "
        f"{count_macs(model) / 1e9:.2f} GMACs per 128×128 image; batch {args.batch}"
    )
    results = {}  # training images/s per setting
    runtimes = [("fp32", select_runtime(str(fast.device), "fp32", channels_last=False, verbose=False))]
    if fast.precision != "fp32":
        runtimes.append((f"{fast.precision}+channels_last", fast))
    if args.skip_fp32:
        runtimes = runtimes[-1:]
    for name, rt in runtimes:
        ips = train_throughput(args.model, rt, args.batch, args.steps)
        results[name] = ips
        print(f"train step {name:>22}: {ips:7.1f} images/s")
    # the cpu recipe trains its first epochs on smaller inputs (progressive resizing)
    for size in (96, 64):
        ips = train_throughput(args.model, fast, args.batch, args.steps, size=size)
        results[f"{fast.precision}@{size}"] = ips
        print(
            f"train step {fast.precision}, input {size}×{size}  : {ips:7.1f} images/s "
            f"({TRAIN_IMAGES / ips / 60:.1f} min per epoch)"
        )
    peak = gemm_gflops(fast, args.gemm_size)
    print(f"matrix product {fast.precision} {args.gemm_size}³     : {peak:7.1f} GFLOP/s (the practical peak)")
    for size in (128, 96, 64):
        key = f"{fast.precision}+channels_last" if size == 128 else f"{fast.precision}@{size}"
        if key in results:
            flops = train_flops_per_image(args.model, size)
            achieved = flops * results[key] / 1e9
            print(
                f"training at {size}×{size}: {flops / 1e9:.2f} GFLOP per image "
                f"-> {achieved:6.1f} GFLOP/s = {achieved / peak:.0%} of the matrix-product peak"
            )
    aug = augment_throughput(fast, args.batch, args.steps)
    print(f"augmentation alone          : {aug:7.1f} batches/s ({aug * args.batch:.0f} images/s)")
    minutes, images_per_s = epoch_estimate(results, aug * args.batch)
    print(
        f"=> about {minutes:.1f} min per Tiny ImageNet epoch "
        f"({images_per_s:.0f} images/s with augmentation), plus validation"
    )
    return {**results, "gemm_gflops": peak, "augment_batches_per_s": aug, "epoch_minutes": minutes}


if __name__ == "__main__":
    main()
