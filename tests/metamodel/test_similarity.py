"""The learned similarity of datasets: metafeatures weighted by what predicts performance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metaopt.knowledge import SCHEMA_VERSION, KnowledgeBase
from metaopt.metamodel import (
    TransferEnsemble,
    learn_metafeature_weights,
    performance_dissimilarity,
)
from metaopt.testing import _evaluation_row


def test_performance_dissimilarity_is_one_minus_the_correlation() -> None:
    values = np.array([[0.1, 0.5, 0.9], [0.2, 0.6, 1.0], [0.9, 0.5, 0.1], [0.4, 0.4, 0.4]])
    d = performance_dissimilarity(values)
    np.testing.assert_allclose(np.diag(d), 0.0)
    assert d[0, 1] == pytest.approx(0.0, abs=1e-12)  # the same order, shifted
    assert d[0, 2] == pytest.approx(2.0)  # the opposite order
    np.testing.assert_allclose(d[3, :3], 1.0)  # flat scores: unrelated to every dataset
    np.testing.assert_allclose(d, d.T)


def test_weights_go_to_the_metafeatures_that_predict_performance() -> None:
    rng = np.random.default_rng(0)
    scaled = rng.uniform(size=(40, 6))
    # Performance depends on metafeatures 1 and 4 only (4 twice as much); the rest is noise.
    dissimilarity = np.abs(scaled[:, None, 1] - scaled[None, :, 1]) + 2 * np.abs(
        scaled[:, None, 4] - scaled[None, :, 4]
    )
    dissimilarity += 0.05 * rng.normal(size=dissimilarity.shape)
    weights = learn_metafeature_weights(scaled, (dissimilarity + dissimilarity.T) / 2)
    assert weights.sum() == pytest.approx(1.0)
    assert (weights >= 0).all()
    assert weights[1] + weights[4] > 0.9
    assert weights[4] == pytest.approx(2 * weights[1], rel=0.2)
    # Nothing to learn from: uniform.
    np.testing.assert_allclose(learn_metafeature_weights(scaled[:2], dissimilarity[:2, :2]), 1 / 6)


def _kinds_with_a_noisy_metafeature() -> KnowledgeBase:
    """Kind A peaks at x = 0.2, kind B at x = 0.8; metafeature ``kind`` tells them apart, six
    noise metafeatures do not."""
    rng = np.random.default_rng(1)
    rows, metafeatures = [], {}
    for kind, peak in (("a", 0.2), ("b", 0.8)):
        for i in range(8):
            dataset = f"{kind}{i}"
            noise = {f"noise{j}": rng.uniform(0, 10) for j in range(6)}
            metafeatures[dataset] = {"kind": float(kind == "b"), **noise}
            for config_id, x in enumerate(np.linspace(0, 1, 25)):
                score = float(np.exp(-((x - peak) ** 2) / 0.02))
                config = {"x": float(x)}
                row = (dataset, dataset, "classification", "bumps", config_id, config, score)
                rows.append(_evaluation_row(*row, "score"))
    frame = pd.DataFrame.from_dict(metafeatures, orient="index").rename_axis("dataset")
    return KnowledgeBase(pd.DataFrame(rows), frame, {"schema_version": SCHEMA_VERSION})


def test_the_learned_prior_weighs_the_datasets_of_the_same_kind() -> None:
    kb = _kinds_with_a_noisy_metafeature()
    new = pd.Series({"kind": 1.0, **{f"noise{j}": 5.0 for j in range(6)}})  # a kind-B dataset
    shares = {}
    for similarity in ("metafeatures", "learned"):
        model = TransferEnsemble(similarity=similarity).fit(kb, "bumps")
        session = model.session(new, space="bumps")
        weights = session.weights([], [])
        kind_b = np.array([name.startswith("b") for name in session.sources])
        shares[similarity] = float(weights[kind_b].sum())
    assert shares["learned"] > 0.95
    assert shares["learned"] > shares["metafeatures"] + 0.1
    model = TransferEnsemble(similarity="learned").fit(kb, "bumps")
    weights = model.models_[("bumps", "classification")].metafeature_weights
    columns = list(model.scaled_metafeatures_.columns)
    assert weights[columns.index("kind")] > 0.9
    # The first suggestion is kind B's optimum.
    assert model.rank(new, n=1, space="bumps")[0]["x"] == pytest.approx(0.8, abs=0.05)
