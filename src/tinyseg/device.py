"""Device, precision and profile: picked once, reported, recorded in every run log.

* device: CUDA when available, else CPU;
* precision (autocast dtype): bf16 on a CPU with native bf16 (AVX-512 BF16 / AMX),
  bf16 on a CUDA GPU that supports it, else fp16 on CUDA (with a GradScaler), else fp32;
* profile: ``auto`` becomes ``gpu`` on CUDA and ``cpu`` otherwise; ``smoke`` is the tiny
  end-to-end check the tests run.
"""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

PROFILES = ("auto", "cpu", "gpu", "smoke")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def resolve_profile(profile: str = "auto") -> str:
    """``auto`` → ``gpu`` when CUDA is available, else ``cpu``; other names are checked and kept."""
    profile = str(profile).lower()
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if profile == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return profile


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 natively (otherwise bf16 autocast is emulated and slow)."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(torch.cpu, probe, None)
        if fn is not None and fn():
            return True
    return False


@dataclass(frozen=True)
class Runtime:
    """Where and in which precision the tensors live."""

    device: torch.device
    precision: str  # "bf16" | "fp16" | "fp32"
    channels_last: bool = True

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return _DTYPES[self.precision]

    @property
    def needs_grad_scaler(self) -> bool:
        return self.precision == "fp16"

    def autocast(self):
        """The autocast context for forward passes (a no-op in fp32)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def describe(self) -> str:
        if self.device.type == "cuda":
            name = torch.cuda.get_device_name(self.device)
        else:
            name = f"{cpu_name()}, {torch.get_num_threads()} threads"
        layout = "channels_last" if self.channels_last else "contiguous"
        return f"{self.device.type} ({name}), {self.precision}, {layout}, torch {torch.__version__}"

    def as_dict(self) -> dict[str, object]:
        return {
            "device": str(self.device),
            "precision": self.precision,
            "channels_last": self.channels_last,
            "description": self.describe(),
        }


def cpu_name() -> str:
    """The processor's model name and family from /proc/cpuinfo (machines of one name differ by family:
    AMD family 25 is Zen 3/4, 26 is Zen 5), else the architecture."""
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines()[:30] if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        return f"{info['model name']}, family {info['cpu family']} model {info['model']}"
    except (OSError, KeyError, ValueError):
        return platform.processor() or platform.machine()


def select_runtime(
    device: str = "auto", precision: str = "auto", channels_last: bool = True, verbose: bool = True
) -> Runtime:
    """Pick cuda > cpu and the autocast precision; print what was picked when ``verbose``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device 'cuda' was requested but torch sees no CUDA GPU "
            f"(torch {torch.__version__}); use device='cpu' or install a CUDA build"
        )
    if precision == "auto":
        if dev.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "bf16" if cpu_has_native_bf16() else "fp32"
    if precision == "fp16" and dev.type != "cuda":
        raise ValueError("fp16 autocast is only supported here on CUDA; use bf16 or fp32 on the CPU")
    runtime = Runtime(dev, precision, channels_last)
    if verbose:
        print(f"runtime: {runtime.describe()}")
    return runtime
