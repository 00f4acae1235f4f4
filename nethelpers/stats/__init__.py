"""Statistics of the study: estimates with confidence intervals, each method named.

Modules:

- ``proportions``: binomial CIs (Wilson, Clopper-Pearson, Wilson-cc, Jeffreys, Agresti-Coull);
- ``accuracy``: 2x2 tables, sensitivity, specificity, predictive values, likelihood ratios,
  DOR, cluster-adjusted at lesion level;
- ``mcnemar``: paired binary tests, clustered (Obuchowski, Durkalski, Yang), paired
  differences of sensitivity and specificity;
- ``roc_analysis``: empirical ROC, DeLong, bootstrap, Youden, bands, clustered AUC;
- ``agreement``: Cohen's kappa (weighted), ICC, Bland-Altman;
- ``paired``: Wilcoxon signed-rank (R's conventions), paired t.

Everything is importable from ``nethelpers.stats``. Reference numbers from R are made by
the scripts in ``tests/reference/``.
"""

from nethelpers.stats.accuracy import AccuracyResult, diagnostic_accuracy
from nethelpers.stats.agreement import (
    BlandAltmanResult,
    KappaResult,
    bland_altman,
    cohen_kappa,
    icc,
)
from nethelpers.stats.mcnemar import McNemarResult, mcnemar, paired_difference
from nethelpers.stats.paired import PairedTResult, WilcoxonResult, paired_t, wilcoxon
from nethelpers.stats.proportions import ProportionCI, proportion_ci, proportion_ci_table
from nethelpers.stats.roc_analysis import (
    AucCI,
    AucComparison,
    Roc,
    YoudenResult,
    clustered_auc,
    compare_auc,
    compare_clustered_auc,
    roc,
)

__all__ = [
    "AccuracyResult",
    "AucCI",
    "AucComparison",
    "BlandAltmanResult",
    "KappaResult",
    "McNemarResult",
    "PairedTResult",
    "ProportionCI",
    "Roc",
    "WilcoxonResult",
    "YoudenResult",
    "bland_altman",
    "clustered_auc",
    "cohen_kappa",
    "compare_auc",
    "compare_clustered_auc",
    "diagnostic_accuracy",
    "icc",
    "mcnemar",
    "paired_difference",
    "paired_t",
    "proportion_ci",
    "proportion_ci_table",
    "roc",
    "wilcoxon",
]
