"""ProtoNet: prototypes and distances against a hand-computed case, learning, fit/predict.

Also the test-time behaviour both learners share (training modes around evaluation).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from metaopt.fewshot import FewShotTasks, ProtoNet, RelationNet, Task, split_classes

SUPPORT_X = torch.tensor([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [2.0, 2.0]])
SUPPORT_Y = torch.tensor([0, 0, 1, 2])
QUERY_X = torch.tensor([[3.0, 0.0], [1.0, 1.0]])


def test_prototypes_and_distances_match_a_hand_computed_case() -> None:
    net = ProtoNet(nn.Identity())
    protos = net.prototypes(SUPPORT_X, SUPPORT_Y)
    assert torch.equal(protos, torch.tensor([[0.0, 1.0], [4.0, 0.0], [2.0, 2.0]]))
    # (3,0): to (0,1) 9+1, to (4,0) 1, to (2,2) 1+4; (1,1): 1+0, 9+1, 1+1
    expected = torch.tensor([[10.0, 1.0, 5.0], [1.0, 10.0, 2.0]])
    assert torch.allclose(net.distances(QUERY_X, protos), expected)
    assert torch.allclose(net.scores(SUPPORT_X, SUPPORT_Y, QUERY_X), -expected)
    assert torch.allclose(
        ProtoNet(nn.Identity(), temperature=2.0).scores(SUPPORT_X, SUPPORT_Y, QUERY_X),
        -expected / 2,
    )


def test_cosine_distance_matches_a_hand_computed_case() -> None:
    net = ProtoNet(nn.Identity(), distance="cosine")
    d = net.distances(QUERY_X, net.prototypes(SUPPORT_X, SUPPORT_Y))
    s = 1 / math.sqrt(2)
    expected = torch.tensor([[1.0, 0.0, 1 - s], [1 - s, 1 - s, 0.0]])
    assert torch.allclose(d, expected, atol=1e-6)


def test_fit_predict_with_any_labels_and_probabilities() -> None:
    net = ProtoNet(nn.Identity()).fit(SUPPORT_X, ["a", "a", "b", "c"])
    assert net.predict(QUERY_X).tolist() == ["b", "a"]
    proba = net.predict_proba(QUERY_X)
    assert proba.shape == (2, 3)
    assert torch.allclose(proba.sum(1), torch.ones(2))
    logits = -torch.tensor([10.0, 1.0, 5.0])
    assert torch.allclose(proba[0], logits.softmax(0))
    assert net.classes_.tolist() == ["a", "b", "c"]


def test_episodic_training_learns_an_embedding_for_held_out_classes(blobs) -> None:
    data = blobs()
    train_classes, test_classes = split_classes(data, n_test=6, seed=0)
    train = FewShotTasks(data, n_way=5, k_shot=1, n_query=10, classes=train_classes, seed=0)
    test = FewShotTasks(data, n_way=5, k_shot=1, n_query=10, classes=test_classes, seed=1)
    test_tasks = test.sample(100)
    torch.manual_seed(0)
    net = ProtoNet(nn.Linear(20, 8), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    before = float(net.evaluate(test_tasks).mean())
    losses = net.meta_train(train, 300, progress=False)
    after = float(net.evaluate(test_tasks).mean())
    assert np.mean(losses[-50:]) < np.mean(losses[:50])
    assert after > before + 0.2, (before, after)
    assert after > 0.8


def test_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    a, b = ProtoNet(nn.Linear(3, 2)), ProtoNet(nn.Linear(3, 2))
    b.load_state_dict(a.state_dict())
    assert set(a.state_dict()) == {"embedding.weight", "embedding.bias"}
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    q = torch.randn(5, 3)
    assert torch.equal(a.scores(x, y, q), b.scores(x, y, q))


class _RecordsMode(nn.Module):
    """An identity that records the training mode of each forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(self.training)
        return x


@pytest.mark.parametrize("kind", ["proto", "relation"])
def test_evaluation_restores_each_modules_training_mode(kind: str) -> None:
    torch.manual_seed(0)
    recorder, frozen = _RecordsMode(), nn.BatchNorm1d(2)
    embedding = nn.Sequential(recorder, nn.Dropout(0.5), frozen)
    if kind == "proto":
        learner = ProtoNet(embedding)
    else:
        learner = RelationNet(embedding, nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    frozen.eval()  # the user keeps this one in eval mode while the rest trains
    modes = {name: m.training for name, m in embedding.named_modules()}
    assert modes[""] and not modes["2"]
    task = Task(SUPPORT_X, SUPPORT_Y, QUERY_X, torch.tensor([1, 0]))
    learner.evaluate([task])
    learner.fit(SUPPORT_X, SUPPORT_Y).predict_proba(QUERY_X)
    assert recorder.seen and not any(recorder.seen)  # both ran in eval mode ...
    assert {name: m.training for name, m in embedding.named_modules()} == modes  # ... then back
    embedding.eval()
    learner.evaluate([task])
    assert not any(m.training for m in embedding.modules())
