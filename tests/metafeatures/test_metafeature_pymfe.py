"""Agreement with pymfe, the reference implementation, on real OpenML datasets.

Compared on numeric datasets without missing values (pymfe has no missing-value handling, and
it gray-codes categoricals where we keep them as they are). Tolerances:
- general, statistical, model-based: exact up to floating point (rel 1e-7);
- information theory: rel 1e-4, because pymfe adds 1e-8 to every joint probability;
- landmarking: abs 0.08, because pymfe uses 10-fold CV (we use 5-fold) and other learner
  settings (LDA solver, tie-breaking).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from metaopt.datasets import load_dataset
from metaopt.metafeatures import extract_metafeatures

pymfe_mfe = pytest.importorskip("pymfe.mfe", reason="pymfe is not installed")

pytestmark = [pytest.mark.shared, pytest.mark.slow]

SUMMARIES = ["mean", "sd", "min", "max", "median"]
GENERAL = {
    "nr_inst": "general.n_instances",
    "nr_attr": "general.n_features",
    "nr_num": "general.n_numeric",
    "nr_cat": "general.n_categorical",
    "nr_bin": "general.n_binary",
    "nr_class": "general.n_classes",
    "attr_to_inst": "general.dimensionality",
    "freq_class.min": "general.class_prob_min",
    "freq_class.max": "general.class_prob_max",
    "freq_class.sd": "general.class_prob_sd",
    "nr_outliers": "statistical.n_outlier_features",
    "nr_cor_attr": "statistical.high_correlation_ratio",
    "leaves": "model_based.n_leaves",
    "nodes": "model_based.n_nodes",
    "tree_depth.max": "model_based.depth",
    "nodes_per_attr": "model_based.nodes_per_feature",
    "nodes_per_inst": "model_based.nodes_per_instance",
}
SUMMARISED = {
    "mean": "statistical.mean",
    "sd": "statistical.sd",
    "skewness": "statistical.skewness",
    "kurtosis": "statistical.kurtosis",
    "cor": "statistical.abs_correlation",
    "cov": "statistical.abs_covariance",
    "leaves_branch": "model_based.branch_length",
    "nodes_per_level": "model_based.nodes_per_level",
    "var_importance": "model_based.importance",
}
INFO = {
    "class_ent": "info_theory.class_entropy",
    "eq_num_attr": "info_theory.equivalent_n_attributes",
    "ns_ratio": "info_theory.noise_signal_ratio",
    **{
        f"{ref}.{how}": f"info_theory.{ours}.{how}"
        for ref, ours in [
            ("attr_ent", "attr_entropy"),
            ("joint_ent", "joint_entropy"),
            ("mut_inf", "mutual_information"),
        ]
        for how in SUMMARIES
    },
}
LANDMARKS = {
    "one_nn.mean": "landmarking.one_nn",
    "best_node.mean": "landmarking.stump",
    "naive_bayes.mean": "landmarking.naive_bayes",
    "linear_discr.mean": "landmarking.lda",
}
DATASETS = ["61-iris", "37-diabetes", "41-glass", "1510-wdbc", "54-vehicle"]


def _pymfe(X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    mfe = pymfe_mfe.MFE(
        groups=["general", "statistical", "info-theory", "model-based", "landmarking"],
        features=[
            "nr_inst",
            "nr_attr",
            "nr_num",
            "nr_cat",
            "nr_bin",
            "nr_class",
            "attr_to_inst",
            "freq_class",
            "nr_outliers",
            "nr_cor_attr",
            "mean",
            "sd",
            "skewness",
            "kurtosis",
            "cor",
            "cov",
            "class_ent",
            "attr_ent",
            "joint_ent",
            "mut_inf",
            "eq_num_attr",
            "ns_ratio",
            "leaves",
            "nodes",
            "tree_depth",
            "nodes_per_attr",
            "nodes_per_inst",
            "leaves_branch",
            "nodes_per_level",
            "var_importance",
            "one_nn",
            "best_node",
            "naive_bayes",
            "linear_discr",
        ],
        summary=SUMMARIES,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mfe.fit(X, y, suppress_warnings=True)
        names, values = mfe.extract(suppress_warnings=True)
    return dict(zip(names, values, strict=True))


@pytest.mark.parametrize("name", DATASETS)
def test_overlapping_features_agree_with_pymfe(openml_arff_dir: Path, name: str) -> None:
    dataset = load_dataset(openml_arff_dir / f"{name}.arff")
    X = dataset.X.to_numpy(dtype=float)
    y = dataset.y.cat.codes.to_numpy()
    reference = _pymfe(X, y)
    ours = extract_metafeatures(dataset, random_state=0)
    assert len(X) <= 2000  # no subsampling: the same rows are described

    exact = dict(GENERAL)
    exact.update(
        {f"{ref}.{how}": f"{mine}.{how}" for ref, mine in SUMMARISED.items() for how in SUMMARIES}
    )
    compared = 0
    for table, rel, abs_ in [(exact, 1e-7, 1e-10), (INFO, 1e-4, 1e-6), (LANDMARKS, 0, 0.08)]:
        for ref_name, our_name in table.items():
            expected = float(reference[ref_name])
            if not np.isfinite(expected):
                continue
            assert ours[our_name] == pytest.approx(expected, rel=rel, abs=abs_), (
                f"{name}: ours {our_name}={ours[our_name]} vs pymfe {ref_name}={expected}"
            )
            compared += 1
    assert compared >= 70


def test_constant_columns_are_handled_as_pymfe_does() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[:, 1] = 3.0  # constant: zero covariances, undefined correlations
    X[:, 4] = X[:, 0] * 2 + rng.normal(scale=0.1, size=300)
    y = (X[:, 0] > 0).astype(int)
    mfe = pymfe_mfe.MFE(features=["cov", "nr_cor_attr", "mean", "sd"], summary=SUMMARIES)
    mfe.fit(X, y, suppress_warnings=True)
    reference = dict(zip(*mfe.extract(suppress_warnings=True), strict=True))
    ours = extract_metafeatures(X, y, groups="statistical")
    assert ours["statistical.high_correlation_ratio"] == pytest.approx(reference["nr_cor_attr"])
    for how in SUMMARIES:
        assert ours[f"statistical.abs_covariance.{how}"] == pytest.approx(
            reference[f"cov.{how}"], rel=1e-9, abs=1e-12
        )
        assert ours[f"statistical.sd.{how}"] == pytest.approx(reference[f"sd.{how}"], rel=1e-9)
