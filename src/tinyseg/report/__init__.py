"""Everything a reader sees: tables, figures, Russian labels, probe tables, conclusions; nothing here trains.

The report imports no task module (:mod:`tinyseg.classify`, :mod:`tinyseg.segment`): it reads the run
logs (typed records of :mod:`tinyseg.runlog`), the checkpoints, the recipes and the probe logs.

Every number comes from ``runs/<run>/{config.json,metrics.jsonl,summary.json}`` or from the
checkpoints in ``weights/``, and what a run *is* comes from the run table (:mod:`tinyseg.runs`):

* :mod:`.logs` — reading the runs (:class:`Run`), rows of summaries, the validation set they used;
* :mod:`.validation` — the validation pairs the report holds (only those it shows or re-checks the weights on,
  when the logged per-image counts give the rest), metrics from the logged counts, the check of the weights;
* :mod:`.tables` — overview, parameters against the limits, architectures, metric tables;
* :mod:`.figures` — curves, masks with their errors, the same images through every model, the encoder schema;
* :mod:`.seeds` — part 3 over seeds: mean ± sd, hierarchical bootstrap intervals (seeds and images), the
  stand-in's test set and the real check set's halves, recall by rock size, equal training time;
* :mod:`.conclusions` — the conclusions as sentences built from the logged numbers;
* :mod:`.recipes` — the recipes as tables, the line after training;
* :mod:`.probes` — the probe logs (one reader) as tables and summaries;
* :mod:`.classifier` — part 1's figures.
"""

from . import classifier
from .conclusions import conclusions, headline, protocol_note
from .conclusions import part3 as part3_conclusions
from .figures import (
    compare_masks,
    draw_embedding,
    error_overlay,
    example_picks,
    per_image_iou_figure,
    pick_by_share,
    pick_examples,
    plot_classifier_curves,
    plot_segmentation_curves,
    real_vs_generated,
)
from .logs import (
    CheckEvaluation,
    Run,
    check_evaluation,
    compare_runs,
    data_kind,
    data_words,
    load_runs,
    load_segmentation_models,
    summary_row,
    validation_set,
)
from .probes import (
    LOSS_PROBE_SETUP,
    LOSS_PROBES,
    classifier_probe_summary,
    classifier_probe_table,
    integration_probe_summary,
    integration_probe_table,
    load_probes,
    tuning_decisions,
    tuning_probe_table,
    tuning_probes,
    tuning_summary,
)
from .recipes import recipe_table, schedule_text, training_line
from .seeds import (
    Seeds,
    difference_table,
    differences,
    equal_time_table,
    headline_set,
    iou_over_time,
    load_seeds,
    real_table,
    recall_table,
    seed_table,
    segmentation_seeds,
    summary_table,
    views,
)
from .tables import (
    architecture_tables,
    classification_table,
    config_table,
    data_intro,
    data_table,
    describe_data,
    design_table,
    devices,
    facts_table,
    level_table,
    overview,
    parameter_table,
    runs_table,
    segmentation_table,
    skip_schema,
    source_words,
    stage_table,
)
from .validation import (
    RECHECK_PAIRS,
    ValidationSample,
    image_counts,
    logged_validation_counts,
    metrics_from_counts,
    recheck_table,
    validation_sample,
)

__all__ = [
    "classifier",
    "LOSS_PROBE_SETUP",
    "LOSS_PROBES",
    "classifier_probe_summary",
    "classifier_probe_table",
    "integration_probe_summary",
    "integration_probe_table",
    "load_probes",
    "tuning_decisions",
    "tuning_probe_table",
    "tuning_probes",
    "tuning_summary",
    "recipe_table",
    "schedule_text",
    "training_line",
    "Run",
    "CheckEvaluation",
    "check_evaluation",
    "load_runs",
    "summary_row",
    "compare_runs",
    "data_kind",
    "data_words",
    "load_segmentation_models",
    "validation_set",
    "RECHECK_PAIRS",
    "ValidationSample",
    "image_counts",
    "logged_validation_counts",
    "metrics_from_counts",
    "validation_sample",
    "overview",
    "classification_table",
    "segmentation_table",
    "architecture_tables",
    "parameter_table",
    "recheck_table",
    "runs_table",
    "describe_data",
    "per_image_iou_figure",
    "compare_masks",
    "draw_embedding",
    "error_overlay",
    "pick_examples",
    "pick_by_share",
    "plot_classifier_curves",
    "plot_segmentation_curves",
    "conclusions",
    "example_picks",
    "Seeds",
    "difference_table",
    "differences",
    "equal_time_table",
    "iou_over_time",
    "load_seeds",
    "summary_table",
    "seed_table",
    "segmentation_seeds",
    "part3_conclusions",
    "headline",
    "protocol_note",
    "headline_set",
    "views",
    "real_table",
    "recall_table",
    "design_table",
    "facts_table",
    "level_table",
    "stage_table",
    "skip_schema",
    "real_vs_generated",
    "config_table",
    "data_intro",
    "data_table",
    "source_words",
    "devices",
]
