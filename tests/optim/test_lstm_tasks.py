"""Task families for learned optimizers: real tabular data, subsets and label noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metaopt.optim import (
    ConvSpec,
    MLPSpec,
    TabularData,
    TabularTaskFamily,
    TaskMixture,
    load_tabular,
)


@pytest.fixture(scope="module")
def wine() -> TabularData:
    return load_tabular("sklearn:wine")


def test_tasks_are_reproducible_from_their_seed(wine: TabularData) -> None:
    family = TabularTaskFamily([wine], [MLPSpec((8,), "tanh"), MLPSpec((4, 4), "relu")])
    first, second = family.tasks(3, seed=5), family.tasks(3, seed=5)
    for a, b in zip(first, second, strict=True):
        assert a.name == b.name
        torch.testing.assert_close(a.X_train, b.X_train)
        torch.testing.assert_close(a.batch_indices(7), b.batch_indices(7))
        for p, q in zip(a.model().parameters(), b.model().parameters(), strict=True):
            torch.testing.assert_close(p, q)
    assert len({t.name for t in family.tasks(6, seed=6)}) == 6


def test_feature_and_class_subsets(wine: TabularData) -> None:
    family = TabularTaskFamily(
        [wine], [MLPSpec((8,), "tanh")], feature_fraction=(0.2, 0.5), max_classes=2
    )
    for task in family.tasks(5, seed=0):
        assert 1 <= task.n_features <= round(0.5 * wine.X.shape[1])
        assert task.n_outputs == 2
        assert set(task.y_train.unique().tolist()) <= {0, 1}
        means = task.X_train.mean(0).abs()
        assert float(means.max()) < 1e-4  # standardised with training statistics


def test_label_noise_touches_only_training_labels(wine: TabularData) -> None:
    spec = [MLPSpec((8,), "tanh")]
    clean = TabularTaskFamily([wine], spec, max_classes=3, label_noise=(0.0, 0.0))
    noisy = TabularTaskFamily([wine], spec, max_classes=3, label_noise=(0.6, 0.6))
    changed = []
    for seed in range(4):
        (a,), (b,) = clean.tasks(1, seed=seed), noisy.tasks(1, seed=seed)
        torch.testing.assert_close(a.X_train, b.X_train)
        torch.testing.assert_close(a.y_test, b.y_test)
        changed.append(float((a.y_train != b.y_train).float().mean()))
    # A replaced label keeps its class with probability 1/k (k = 2 or 3 classes).
    assert 0.15 < np.mean(changed) < 0.5


def test_regression_targets_are_standardised_and_mixture_draws_both() -> None:
    diabetes = load_tabular("sklearn:diabetes")
    iris = load_tabular("sklearn:iris")
    mixture = TaskMixture(
        [
            TabularTaskFamily([diabetes], [MLPSpec((), "relu")], name="reg"),
            TabularTaskFamily([iris], [MLPSpec((), "relu")], name="clf"),
        ]
    )
    tasks = mixture.tasks(12, seed=0)
    assert {t.family for t in tasks} == {"reg", "clf"}
    reg = next(t for t in tasks if t.task == "regression")
    assert abs(float(reg.y_train.mean())) < 1e-4 and abs(float(reg.y_train.std()) - 1) < 0.01
    assert reg.n_outputs == 1 and reg.loss(torch.zeros(len(reg.y_train), 1), reg.y_train) > 0


def test_full_batch_tasks_and_validation_rows(wine: TabularData) -> None:
    family = TabularTaskFamily([wine], [MLPSpec((8,), "tanh")], max_train_rows=40, batch_size=None)
    task = family.tasks(1, seed=1)[0]
    assert task.full_batch and len(task.y_train) == 40
    batches = task.batch_indices(3)
    assert batches.shape == (3, 40) and all(sorted(b.tolist()) == list(range(40)) for b in batches)
    # Few held-out rows: all of them every step; many: a fixed random batch per step.
    assert task.validation_indices(2).shape == (2, len(task.y_test))
    assert task.validation_indices(5, batch_size=8).shape == (5, 8)
    minibatch = TabularTaskFamily([wine], [MLPSpec((8,), "tanh")], batch_size=16).tasks(1, seed=1)
    assert not minibatch[0].full_batch and minibatch[0].batch_indices(3).shape == (3, 16)


def test_conv_family_on_digits_keeps_every_pixel() -> None:
    digits = load_tabular("sklearn:digits")
    family = TabularTaskFamily(
        [digits], [ConvSpec((8, 8), (4, 8))], feature_fraction=(0.3, 0.5), max_classes=3
    )
    task = family.tasks(1, seed=0)[0]
    assert task.n_features == 64 and "conv-4x8" in task.name
    model = task.model()
    assert any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert model(task.X_train[:5]).shape == (5, task.n_outputs)
    with pytest.raises(ValueError, match="needs rows of 64 features, got 10"):
        ConvSpec((8, 8)).build(10, 2)
    with pytest.raises(ValueError, match="channels must be positive"):
        ConvSpec((8, 8), ())


def test_invalid_specifications_are_rejected(wine: TabularData) -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        MLPSpec((8,), "swish-ish")
    with pytest.raises(ValueError, match="feature_fraction"):
        TabularTaskFamily([wine], [MLPSpec((8,))], feature_fraction=(0.0, 1.0))
    with pytest.raises(ValueError, match="unknown sklearn dataset"):
        load_tabular("sklearn:mnist")
    with pytest.raises(ValueError, match="weights must be"):
        TaskMixture([TabularTaskFamily([wine], [MLPSpec((8,))])], weights=[1.0, 2.0])


@pytest.mark.shared
def test_pmlb_dataset_is_read_with_its_task(pmlb_dir) -> None:
    data = load_tabular("pmlb:haberman")
    assert data.task == "classification" and data.X.shape == (306, 3)
    # PMLB labels 1027_ESL (an ordinal target with 9 integer values) as regression...
    assert load_tabular("pmlb:1027_ESL").task == "regression"
    # ...while a bare file is inferred from its values unless the task is given.
    path = pmlb_dir / "1027_ESL.tsv.gz"
    assert load_tabular(path).task == "classification"
    forced = load_tabular(path, task="regression")
    assert forced.task == "regression" and len(forced.y) == 488
    with pytest.raises(ValueError, match="task must be"):
        load_tabular(path, task="ranking")  # type: ignore[arg-type]


def test_split_validation_holds_out_training_rows(wine: TabularData) -> None:
    task = TabularTaskFamily([wine], [MLPSpec((8,), "tanh")], batch_size=16).tasks(1, seed=2)[0]
    fit, X_val, y_val = task.split_validation(0.25)
    n = len(task.y_train)
    assert len(y_val) == round(0.25 * n) and len(fit.y_train) + len(y_val) == n
    rows = torch.cat([fit.X_train, X_val])
    # Every training row lands on exactly one side; the test split and the model stay.
    assert torch.equal(rows.sort(dim=0).values, task.X_train.sort(dim=0).values)
    assert fit.X_test is task.X_test and fit.seed == task.seed
    for a, b in zip(fit.model().parameters(), task.model().parameters(), strict=True):
        assert torch.equal(a, b)
    assert int(fit.batch_indices(5).max()) < len(fit.y_train)
    assert fit.steps_per_epoch() == -(-len(fit.y_train) // 16)
    again, X_again, _ = task.split_validation(0.25)
    assert torch.equal(X_again, X_val)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\)"):
        task.split_validation(1.0)
