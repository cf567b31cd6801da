"""The metric learners as a user meets them: label types, devices, numpy options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from metaopt.fewshot import FewShotTasks, ProtoNet, RelationNet


def test_fit_refuses_labels_that_mix_strings_and_numbers() -> None:
    support_x = torch.tensor([[0.0], [1.0], [5.0], [6.0]])
    proto = ProtoNet(nn.Identity())
    with pytest.raises(TypeError, match="support_y mixes strings with labels of type int"):
        proto.fit(support_x, [1, 1, "a", "a"])
    # One type throughout keeps its type: ints come back as ints, strings as strings.
    assert proto.fit(support_x, [1, 1, 2, 2]).predict(torch.tensor([[5.5]])).tolist() == [2]
    labels = np.array(["x", "x", "y", "y"])
    assert proto.fit(support_x, labels).predict(torch.tensor([[0.2]])).tolist() == ["x"]


def test_meta_train_accepts_numpy_integers_and_types_its_errors() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 6)
    X = rng.normal(size=(len(y), 3)) + 3 * y[:, None]
    tasks = FewShotTasks((X, y), n_way=2, k_shot=1, n_query=2, seed=0)
    torch.manual_seed(0)
    proto = ProtoNet(nn.Linear(3, 2))
    losses = proto.meta_train(tasks, np.int64(3), tasks_per_step=np.int32(2), progress=False)
    assert len(losses) == 3
    with pytest.raises(TypeError, match="iterations must be an int, got float"):
        proto.meta_train(tasks, 3.0, progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tasks_per_step must be a positive int, got 0"):
        proto.meta_train(tasks, 3, tasks_per_step=0, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("learner", ["proto", "relation"])
def test_fit_and_predict_on_a_gpu(learner: str) -> None:
    torch.manual_seed(0)
    device = torch.device("cuda")
    embedding = nn.Linear(2, 4).to(device)
    if learner == "proto":
        model = ProtoNet(embedding)
    else:
        model = RelationNet(embedding, embedding_dim=4)
        model.relation.to(device)
    support_x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]], device=device)
    model.fit(support_x, ["a", "a", "b", "b"])
    predicted = model.predict(torch.tensor([[5.0, 4.9]], device=device))
    assert predicted.shape == (1,) and predicted[0] in ("a", "b")
    assert model.predict_proba(support_x).device.type == "cuda"
