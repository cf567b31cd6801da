"""Bad inputs to the few-shot learners and the pooled data give clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from metaopt.fewshot import FewShotTasks, ProtoNet, RelationNet, Task, pool_datasets


def learners() -> list:
    torch.manual_seed(0)
    return [ProtoNet(nn.Linear(2, 3)), RelationNet(nn.Linear(2, 3), embedding_dim=3)]


@pytest.mark.parametrize("index", [0, 1])
def test_class_without_support_example(index: int) -> None:
    learner = learners()[index]
    x, q = torch.randn(4, 2), torch.randn(3, 2)
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no support example"):
        learner.scores(x, torch.tensor([0, 0, 2, 2]), q)


@pytest.mark.parametrize("index", [0, 1])
def test_mismatched_shapes(index: int) -> None:
    learner = learners()[index]
    y = torch.tensor([0, 1, 0, 1])
    with pytest.raises(ValueError, match="same shape"):
        learner.scores(torch.randn(4, 2), y, torch.randn(3, 5))
    with pytest.raises(ValueError, match="disagree on the number of examples"):
        learner.scores(torch.randn(5, 2), y, torch.randn(3, 2))
    with pytest.raises(ValueError, match="same shape"):
        learner.fit(torch.randn(4, 2), y).predict(torch.randn(3, 5))


@pytest.mark.parametrize("index", [0, 1])
def test_query_labels_are_checked(index: int) -> None:
    learner = learners()[index]
    torch.manual_seed(0)
    support_x, support_y = torch.randn(6, 2), torch.tensor([0, 1, 2, 0, 1, 2])
    query_x, query_y = torch.randn(4, 2), torch.tensor([0, 1, 2, 2])
    good = Task(support_x, support_y, query_x, query_y)
    assert learner.evaluate([good]).shape == (1,)
    bad = {
        # (n, 1) against (n,) labels would broadcast to an (n, n) comparison.
        "column": (ValueError, r"1-d tensor .* got shape \(4, 1\)", query_y[:, None]),
        "range": (ValueError, r"labels 0\.\.2 .* got label\(s\) \[3, 4, 5\]", query_y + 3),
        "negative": (ValueError, r"got label\(s\) \[-1\]", torch.tensor([0, 1, 2, -1])),
        "length": (ValueError, "disagree on the number of examples", query_y[:3]),
        "float": (TypeError, "integer class indices", query_y.float()),
    }
    for error, message, labels in bad.values():
        task = Task(support_x, support_y, query_x, labels)
        with pytest.raises(error, match="task 0: .*" + message):
            learner.evaluate([task])
        with pytest.raises(error, match="task 0: .*" + message):
            learner.meta_step([task])
        with pytest.raises(error, match=message):
            learner.episode_loss(task)


def test_numeric_options_must_be_finite_and_positive() -> None:
    for temperature in (float("inf"), float("nan"), 0.0, -1):
        with pytest.raises(ValueError, match="temperature must be a finite positive number"):
            ProtoNet(nn.Identity(), temperature=temperature)
    with pytest.raises(TypeError, match="temperature must be a float, got str"):
        ProtoNet(nn.Identity(), temperature="1")  # type: ignore[arg-type]
    assert ProtoNet(nn.Identity(), temperature=np.float32(0.5)).temperature == 0.5
    relation = nn.Sequential(nn.Linear(6, 1), nn.Sigmoid())
    for kwargs in ({"hidden": 0}, {"embedding_dim": -2}):
        name = next(iter(kwargs))
        with pytest.raises(ValueError, match=f"{name} must be positive"):
            RelationNet(nn.Identity(), **{"embedding_dim": 3, **kwargs})
        with pytest.raises(ValueError, match=f"{name} must be positive"):  # even if unused
            RelationNet(nn.Identity(), relation, **kwargs)
    for kwargs in ({"hidden": 1.5}, {"embedding_dim": float("inf")}):
        name = next(iter(kwargs))
        with pytest.raises(TypeError, match=f"{name} must be an int, got float"):
            RelationNet(nn.Identity(), relation, **{"embedding_dim": 3, **kwargs})


def test_load_state_dict_refuses_foreign_keys_and_shapes() -> None:
    torch.manual_seed(0)
    proto = ProtoNet(nn.Linear(2, 3))
    relation = RelationNet(nn.Linear(2, 3), embedding_dim=3)
    before = proto.state_dict()
    with pytest.raises(ValueError, match=r"unexpected keys \['relation\.net\.0\.bias'"):
        proto.load_state_dict(relation.state_dict())
    with pytest.raises(
        ValueError,
        match=r"missing keys \['embedding\.bias', 'embedding\.weight'\], unexpected keys "
        r"\['foo'\]",
    ):
        proto.load_state_dict({"foo": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"missing keys \['relation\.net\.0\.bias'"):
        relation.load_state_dict(proto.state_dict())
    wrong = {**before, "embedding.weight": torch.zeros(3, 3), "embedding.bias": torch.ones(3)}
    with pytest.raises(ValueError, match=r"embedding\.weight: got \(3, 3\), expected \(3, 2\)"):
        proto.load_state_dict(wrong)
    with pytest.raises(TypeError, match="must be a mapping"):
        proto.load_state_dict([("embedding.weight", torch.zeros(3, 2))])  # type: ignore[arg-type]
    # A refused state loads nothing, not even its well-formed tensors.
    for key, value in proto.state_dict().items():
        assert torch.equal(value, before[key])


class _Pooled(nn.Module):
    """An embedding that wrongly pools the batch into one vector."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(0)


@pytest.mark.parametrize("learner", [ProtoNet(_Pooled()), RelationNet(_Pooled(), embedding_dim=2)])
def test_embedding_must_keep_one_vector_per_example(learner) -> None:
    x, y = torch.randn(4, 2), torch.tensor([0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"one vector per example: got \(2,\) for 4 examples"):
        learner.scores(x, y, torch.randn(3, 2))
    # A well-behaved embedding's per-example outputs are flattened into vectors.
    assert ProtoNet(nn.Identity()).embed(torch.randn(4, 3, 2)).shape == (4, 6)


@pytest.mark.parametrize("index", [0, 1])
def test_zero_shots(index: int) -> None:
    learner = learners()[index]
    empty_x, empty_y = torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)
    with pytest.raises(ValueError, match="support set is empty"):
        learner.scores(empty_x, empty_y, torch.randn(3, 2))
    with pytest.raises(ValueError, match="support set is empty"):
        learner.fit(empty_x, [])
    X, y = np.random.default_rng(0).normal(size=(40, 2)), np.repeat(np.arange(4), 10)
    with pytest.raises(ValueError, match="k_shot must be at least 1"):
        FewShotTasks((X, y), n_way=2, k_shot=0)


def test_other_bad_inputs() -> None:
    proto = ProtoNet(nn.Identity())
    with pytest.raises(ValueError, match="before predicting"):
        proto.predict(torch.randn(2, 2))
    with pytest.raises(TypeError, match="integer class indices"):
        proto.scores(torch.randn(2, 2), torch.tensor([0.0, 1.0]), torch.randn(1, 2))
    with pytest.raises(ValueError, match="at least 2 classes"):
        proto.scores(torch.randn(2, 2), torch.tensor([0, 0]), torch.randn(1, 2))
    with pytest.raises(ValueError, match="no trainable parameters"):
        proto.meta_step([])  # checked before the batch: nn.Identity has nothing to train
    with pytest.raises(TypeError, match="embedding must be a torch.nn.Module"):
        ProtoNet("mlp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="distance"):
        ProtoNet(nn.Identity(), distance="manhattan")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="embedding_dim"):
        RelationNet(nn.Identity())
    with pytest.raises(ValueError, match="does embedding_dim match"):
        RelationNet(nn.Linear(2, 4), embedding_dim=3).scores(
            torch.randn(2, 2), torch.tensor([0, 1]), torch.randn(1, 2)
        )
    with pytest.raises(TypeError, match="optimizer"):
        ProtoNet(nn.Linear(2, 2), optimizer="adam")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sample"):
        ProtoNet(nn.Linear(2, 2)).meta_train([1, 2], 3)


def test_pool_datasets_keeps_classes_apart_and_checks_widths() -> None:
    a = (np.zeros((4, 2)), np.array([3, 3, 5, 5]))
    b = (np.ones((2, 2)), np.array([3, 5]))
    X, y = pool_datasets({"a": a, "b": b})
    assert X.shape == (6, 2)
    assert y.tolist() == ["a:3", "a:3", "a:5", "a:5", "b:3", "b:5"]
    tasks = FewShotTasks(
        (np.vstack([X, X, X]), np.concatenate([y, y, y])), n_way=4, k_shot=1, n_query=1, seed=0
    )
    assert len(tasks.classes) == 4
    with pytest.raises(ValueError, match="share their number of features"):
        pool_datasets({"a": a, "c": (np.zeros((2, 3)), np.array([0, 1]))})
    with pytest.raises(TypeError, match="non-empty mapping"):
        pool_datasets({})
