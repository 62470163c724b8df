"""The one place that knows where things live.

Every location the project reads or writes comes from :func:`get_paths`.
Defaults sit in the repository (``./data``, ``./weights``, ``./runs``,
``./reports``); environment variables override them:

===================  ==========================================  =======================================
variable             meaning                                     default
===================  ==========================================  =======================================
``DATA_DIR``         downloads, extracted data sets, caches      ``<repo>/data``
``TINY_IMAGENET``    Tiny ImageNet-200: a folder or the zip      ``$DATA_DIR/tiny-imagenet-200``, else the
                                                                 assignment's paths (below)
``MOON_ROOT``        a folder in the MOON_SEGMENTATION_BINARY    ``$DATA_DIR/MOON_SEGMENTATION_BINARY``,
                     layout (``images/render``, ``images/ground``) else the assignment's path (below)
``MOON_CHECK_ROOT``  real renders with cleaned masks, same       ``$DATA_DIR/moon_real_check``, else
                     layout: evaluation only (never trained on)  ``<repo>/../shared/data/moon_real_check``
``WEIGHTS_DIR``      final checkpoints ``<run>.pt``              ``<repo>/weights``
``RUNS_DIR``         run logs ``<run>/{config,metrics,summary}``  ``<repo>/runs``
``REPORTS_DIR``      exported report (HTML/PDF)                  ``<repo>/reports``
``COURSE_DIR``       where the assignment's locations (below)    the repository, then its parent folder
                     are looked for
===================  ==========================================  =======================================

The assignment's own locations are found without any variable, relative to the repository and
to its parent folder, or to ``$COURSE_DIR`` alone when it is set (the first that exists wins, after
``$DATA_DIR``): ``tiny-imagenet-200/`` or ``sem2/data/tiny-imagenet-200/``;
``designing_neural_network_architectures_2025_01/seminar_03/data/MOON_SEGMENTATION_BINARY/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ASSIGNMENT_TINY_IMAGENET = ("tiny-imagenet-200", "sem2/data/tiny-imagenet-200")
ASSIGNMENT_MOON = ("designing_neural_network_architectures_2025_01/seminar_03/data/MOON_SEGMENTATION_BINARY",)

ENV_VARS = (
    "DATA_DIR",
    "TINY_IMAGENET",
    "MOON_ROOT",
    "MOON_CHECK_ROOT",
    "WEIGHTS_DIR",
    "RUNS_DIR",
    "REPORTS_DIR",
    "COURSE_DIR",
)


def project_root() -> Path:
    """The repository root when the package runs from its checkout, else the working directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "tinyseg").is_dir():
            return parent
    return Path.cwd()


@dataclass(frozen=True)
class Paths:
    root: Path  # the repository (relative locations in logs and outputs start here)
    data_dir: Path
    tiny_imagenet: Path
    moon_root: Path
    moon_check_root: Path
    weights_dir: Path
    runs_dir: Path
    reports_dir: Path
    explicit: frozenset[str] = frozenset()  # the variables the user set (a wrong explicit location is an error)

    @property
    def cache_dir(self) -> Path:
        """Decoded uint8 arrays, keyed by their source (see the data modules)."""
        return self.data_dir / "cache"

    @property
    def moon_synth_dir(self) -> Path:
        """Where the generated MOON-layout stand-in is written when the real set is absent."""
        return self.data_dir / "moon_synth"

    def run_dir(self, run: str) -> Path:
        return self.runs_dir / run

    def weights(self, run: str) -> Path:
        return self.weights_dir / f"{run}.pt"

    def is_explicit(self, variable: str) -> bool:
        """Whether the location comes from the environment variable ``variable`` rather than a default."""
        return variable in self.explicit

    def relative(self, path: str | Path) -> str:
        """``path`` as written into logs, notebooks and reports: never absolute.

        Inside the repository: relative to it (``weights/unet_base.pt``); inside ``DATA_DIR``
        elsewhere: ``$DATA_DIR/...``; anything else: relative to the repository
        (``../shared/data/tiny-imagenet-200.zip``).
        """
        path = Path(path).resolve()
        if path.is_relative_to(self.root):
            return path.relative_to(self.root).as_posix() or "."
        if path.is_relative_to(self.data_dir):
            return f"$DATA_DIR/{path.relative_to(self.data_dir).as_posix()}"
        return Path(os.path.relpath(path, self.root)).as_posix()


def _path(value: str) -> Path:
    return Path(os.path.expandvars(value)).expanduser().resolve()


def _first_existing(*candidates: Path) -> Path:
    return next((c for c in candidates if c.exists()), candidates[0])


def _assignment(bases: tuple[Path, ...], relative: tuple[str, ...]) -> list[Path]:
    """The assignment's locations under each of ``bases`` (the repository, then its parent; or $COURSE_DIR)."""
    return [base / r for base in bases for r in relative]


def get_paths(env: Mapping[str, str] | None = None, root: Path | None = None) -> Paths:
    """Resolve all locations; ``env`` (default ``os.environ``) overrides the defaults.

    Empty variables count as unset. Nothing is created here: the code that writes
    a location creates it.
    """
    env = os.environ if env is None else env
    root = project_root() if root is None else Path(root)

    def get(name: str, default: Path) -> Path:
        value = env.get(name, "").strip()
        return _path(value) if value else default.resolve()

    root = root.resolve()
    data_dir = get("DATA_DIR", root / "data")
    course = (_path(env["COURSE_DIR"]),) if env.get("COURSE_DIR", "").strip() else (root, root.parent)
    return Paths(
        root=root,
        data_dir=data_dir,
        tiny_imagenet=get(
            "TINY_IMAGENET",
            _first_existing(data_dir / "tiny-imagenet-200", *_assignment(course, ASSIGNMENT_TINY_IMAGENET)),
        ),
        moon_root=get(
            "MOON_ROOT", _first_existing(data_dir / "MOON_SEGMENTATION_BINARY", *_assignment(course, ASSIGNMENT_MOON))
        ),
        moon_check_root=get(
            "MOON_CHECK_ROOT",
            _first_existing(data_dir / "moon_real_check", root.parent / "shared" / "data" / "moon_real_check"),
        ),
        weights_dir=get("WEIGHTS_DIR", root / "weights"),
        runs_dir=get("RUNS_DIR", root / "runs"),
        reports_dir=get("REPORTS_DIR", root / "reports"),
        explicit=frozenset(name for name in ENV_VARS if env.get(name, "").strip()),
    )
