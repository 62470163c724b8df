"""THE table of runs: everything that differs between the project's training runs, as data.

Model building, training, the main job (which notebook trains what, what depends on what) and
the report read this table; no code compares run names. Adding a run is adding a row
(:func:`register`), like timm's ``default_cfgs``: the rest of the project picks it up.

A run's recipe (epochs, learning rate, augmentation, ...) is its task's recipe for the profile
(``classify.RECIPES`` / ``segment.RECIPES``), with ``recipe_overrides`` applied.

A run trained with several seeds (``seeds``) logs each under its own id (:func:`run_id`):
``runs/unet_base/`` for seed 0, ``runs/unet_base-seed1/`` for seed 1, ... Only seed 0's weights
are final checkpoints (committed); the other seeds' weights are working files (``.gitignore``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLASSIFIER = "classifier"  # the part-1 run; its checkpoint is the U-Net backbones' encoder


@dataclass(frozen=True)
class RunSpec:
    name: str  # runs/<name>/, weights/<name>.pt
    title: str  # one line for figure titles (Russian: what a reader sees)
    short: str  # a short label for legends, table rows and sentences (Russian)
    colour: str  # the run's colour in every figure
    notebook: str  # the notebook that trains it
    task: str  # "classification" | "segmentation": the module and recipe family
    model: str  # a registered model (tinyseg.models.REGISTRY)
    model_args: dict = field(default_factory=dict)
    encoder_from: str | None = None  # the run whose classifier checkpoint is the encoder (its architecture)
    init: str = "scratch"  # "pretrained": the encoder starts from that checkpoint's weights
    frozen: bool = False  # the pretrained encoder starts frozen (weights and BatchNorm statistics)
    unfreeze_at: float | None = None  # unfreeze after this share of the epochs (None: never)
    encoder_lr_scale: float = 1.0  # the encoder's learning rate relative to the rest, once it trains
    recipe_overrides: dict = field(default_factory=dict)
    seeds: int = 1  # trained with seeds 0 .. seeds-1 (mean ± sd, confidence intervals)
    word: str = ""  # how prose names it once ``short`` has introduced it ("B"); default: ``short``

    def __post_init__(self):
        if self.task not in ("classification", "segmentation"):
            raise ValueError(f"{self.name}: task must be 'classification' or 'segmentation', not {self.task!r}")
        if self.init not in ("pretrained", "scratch"):
            raise ValueError(f"{self.name}: init must be 'pretrained' or 'scratch', not {self.init!r}")
        if (self.init == "pretrained" or self.frozen) and self.encoder_from is None:
            raise ValueError(f"{self.name}: a pretrained or frozen encoder needs encoder_from (the run it comes from)")
        if self.unfreeze_at is not None and not self.frozen:
            raise ValueError(f"{self.name}: unfreeze_at only makes sense for a frozen encoder")
        if self.seeds < 1:
            raise ValueError(f"{self.name}: seeds must be at least 1, not {self.seeds}")

    @property
    def said(self) -> str:
        """The run's name in running text (nominative): ``word``, or ``short`` when it has none."""
        return self.word or self.short

    def ids(self) -> list[str]:
        """The run ids of all its seeds (seed 0 first): the folders under runs/."""
        return [run_id(self.name, seed) for seed in range(self.seeds)]

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The runs whose results this run is built on (redo them → redo this one)."""
        return (self.encoder_from,) if self.encoder_from else ()

    @property
    def role(self) -> str:
        """What the run stands for in comparisons, read from its fields: ``classifier``, ``plain``
        (a segmentation model without a borrowed encoder), ``control`` (the borrowed architecture,
        random weights), ``frozen`` (pretrained, never unfrozen) or ``finetuned`` (pretrained, trained)."""
        if self.task == "classification":
            return "classifier"
        if self.encoder_from is None:
            return "plain"
        if self.init == "scratch":
            return "control"
        return "frozen" if self.frozen and self.unfreeze_at is None else "finetuned"

    def unfreeze_epoch(self, epochs: int) -> int | None:
        """The (1-based) epoch at whose start the encoder is unfrozen; at the earliest epoch 2."""
        if self.unfreeze_at is None:
            return None
        return max(2, 1 + round(self.unfreeze_at * epochs))

    def training(self, epochs: int) -> dict:
        """What of the spec shapes training, resolved for ``epochs`` (written to the run's log)."""
        return {
            "model": self.model,
            "model_args": self.model_args,
            "encoder_from": self.encoder_from,
            "init": self.init,
            "frozen": self.frozen,
            "unfreeze_epoch": self.unfreeze_epoch(epochs),
            "encoder_lr_scale": self.encoder_lr_scale,
            "recipe_overrides": self.recipe_overrides,
        }


RUNS: dict[str, RunSpec] = {}


def run_id(name: str, seed: int) -> str:
    """Where seed ``seed`` of run ``name`` logs: the name itself for seed 0, ``<name>-seed<k>`` otherwise."""
    return name if seed == 0 else f"{name}-seed{seed}"


def register(spec: RunSpec) -> RunSpec:
    if spec.name in RUNS:
        raise ValueError(f"run {spec.name!r} is registered already")
    RUNS[spec.name] = spec
    return spec


def get(name: str) -> RunSpec:
    try:
        return RUNS[name]
    except KeyError:
        raise KeyError(f"unknown run {name!r}; registered: {', '.join(RUNS)}") from None


def of_task(task: str) -> list[RunSpec]:
    return [s for s in RUNS.values() if s.task == task]


def of_notebook(notebook: str) -> list[RunSpec]:
    return [s for s in RUNS.values() if s.notebook == notebook]


def by_role(names) -> dict[str, str]:
    """``role → run name`` for the given runs (the first run of each role)."""
    roles: dict[str, str] = {}
    for name in names:
        roles.setdefault(get(name).role, name)
    return roles


def dependents(name: str) -> list[RunSpec]:
    """The runs built on ``name``, directly or through other runs."""
    found: list[RunSpec] = []
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for spec in RUNS.values():
            if current in spec.depends_on and spec not in found:
                found.append(spec)
                frontier.append(spec.name)
    return found


register(
    RunSpec(
        CLASSIFIER,
        "Classifier128 на Tiny ImageNet-200",
        "Classifier128",
        "tab:purple",
        "01_classifier.ipynb",
        "classification",
        "Classifier128",
    )
)
register(
    RunSpec(
        "unet_base",
        "UNetBase (обычный энкодер U-Net)",
        "UNetBase",
        "tab:gray",
        "02_unet_base.ipynb",
        "segmentation",
        "UNetBase",
        seeds=3,
    )
)
# The backbone U-Nets' integration design, chosen by the probes in docs/seg_probes.jsonl (tools/seg_probe.py):
# the classifier sees the image upsampled 2× (the scale it learned at), no extra full-resolution stem.
BACKBONE_ARGS = {"input_scale": 2, "stem_channels": 0}

register(
    RunSpec(
        "unet_backbone_frozen",
        "UNetBackbone A: энкодер из Classifier128 заморожен",
        "A (энкодер заморожен)",
        "tab:blue",
        "03_unet_backbone.ipynb",
        "segmentation",
        "UNetBackbone",
        model_args=BACKBONE_ARGS,
        encoder_from=CLASSIFIER,
        init="pretrained",
        frozen=True,
        word="A",
    )
)
register(
    RunSpec(
        "unet_backbone_finetune",
        "UNetBackbone B: энкодер из Classifier128 дообучается (разморозка позже, шаг меньше)",
        "B (энкодер дообучается)",
        "tab:red",
        "03_unet_backbone.ipynb",
        "segmentation",
        "UNetBackbone",
        model_args=BACKBONE_ARGS,
        encoder_from=CLASSIFIER,
        init="pretrained",
        frozen=True,
        unfreeze_at=0.25,
        encoder_lr_scale=0.3,
        seeds=3,
        word="B",
    )
)
register(
    RunSpec(
        "unet_backbone_scratch",
        "UNetBackbone, контроль: энкодер со случайной инициализацией",
        "контроль (случайный энкодер)",
        "tab:green",
        "03_unet_backbone.ipynb",
        "segmentation",
        "UNetBackbone",
        model_args=BACKBONE_ARGS,
        encoder_from=CLASSIFIER,
        word="контроль",
    )
)
