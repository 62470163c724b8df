"""The run context that notebooks, tools and tasks share: profile, seed, device and precision, paths.

A notebook's first code cell calls :func:`start` and its last ``session.finish()``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .checkpoint import seed_everything
from .device import Runtime, resolve_profile, select_runtime
from .paths import Paths, get_paths


@dataclass
class Session:
    profile: str
    seed: int
    runtime: Runtime
    paths: Paths
    started: float = field(default_factory=time.time)

    def elapsed_min(self) -> float:
        return (time.time() - self.started) / 60

    def finish(self) -> None:
        print(f"notebook finished: wall time {self.elapsed_min():.1f} min (profile and machine: first cell)")


def start(profile: str = "auto", seed: int = 0) -> Session:
    """Resolve the profile, pick device and precision, seed everything, say where things go."""
    profile = resolve_profile(profile)
    runtime = select_runtime(verbose=False)
    paths = get_paths()
    seed_everything(seed)
    try:  # crisp figures in the notebook and in its HTML/PDF export
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png", dpi=110)
    except ImportError:
        pass
    print(
        f"profile: {profile} | seed: {seed}\nruntime: {runtime.describe()}\n"
        f"runs: {paths.relative(paths.runs_dir)} | weights: {paths.relative(paths.weights_dir)}"
    )
    return Session(profile, seed, runtime, paths)
