"""RelationNet: relation scores against a plain loop, loss, learning."""

from __future__ import annotations

import torch
from torch import nn

from metaopt.fewshot import FewShotTasks, RelationNet, Task, split_classes


def test_relation_scores_match_a_plain_loop() -> None:
    torch.manual_seed(0)
    embedding = nn.Sequential(nn.Linear(4, 6), nn.ReLU())
    net = RelationNet(embedding, embedding_dim=6, hidden=5)
    support_x = torch.randn(7, 4)
    support_y = torch.tensor([0, 1, 2, 0, 1, 2, 2])
    query_x = torch.randn(5, 4)
    got = net.scores(support_x, support_y, query_x)
    expected = torch.empty(5, 3)
    for i in range(5):
        for k in range(3):
            members = [embedding(support_x[j]) for j in range(7) if support_y[j] == k]
            class_vector = torch.stack(members).mean(0)
            query_vector = embedding(query_x[i])
            features = torch.cat(
                [(class_vector - query_vector).abs(), class_vector * query_vector]
            )
            expected[i, k] = net.relation.net(features.unsqueeze(0)).squeeze()
    assert torch.allclose(got, expected, atol=1e-6)
    assert ((got > 0) & (got < 1)).all()


def test_paper_concatenation_module_matches_a_plain_loop() -> None:
    torch.manual_seed(1)
    relation = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 1), nn.Sigmoid())
    net = RelationNet(nn.Identity(), relation)
    support_x, support_y = torch.randn(6, 3), torch.tensor([0, 0, 1, 1, 2, 2])
    query_x = torch.randn(4, 3)
    got = net.scores(support_x, support_y, query_x)
    for i in range(4):
        for k in range(3):
            class_vector = support_x[support_y == k].mean(0)
            pair = torch.cat([class_vector, query_x[i]]).unsqueeze(0)
            assert torch.allclose(got[i, k], relation(pair).squeeze(), atol=1e-6)


def test_loss_is_mse_to_one_hot_and_custom_relation_modules_work() -> None:
    torch.manual_seed(0)
    relation = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
    net = RelationNet(nn.Identity(), relation)
    support_x, support_y = torch.randn(4, 2), torch.tensor([0, 1, 0, 1])
    query_x, query_y = torch.randn(3, 2), torch.tensor([1, 0, 1])
    loss = net.episode_loss(Task(support_x, support_y, query_x, query_y))
    scores = net.scores(support_x, support_y, query_x)
    target = nn.functional.one_hot(query_y, 2).float()
    assert torch.allclose(loss, ((scores - target) ** 2).mean())
    proba = net.fit(support_x, support_y).predict_proba(query_x)
    assert torch.allclose(proba, scores / scores.sum(1, keepdim=True))


def test_episodic_training_beats_chance_on_held_out_classes(blobs) -> None:
    data = blobs(seed=1)
    train_classes, test_classes = split_classes(data, n_test=6, seed=0)
    train = FewShotTasks(data, n_way=5, k_shot=1, n_query=10, classes=train_classes, seed=0)
    test_tasks = FewShotTasks(
        data, n_way=5, k_shot=1, n_query=10, classes=test_classes, seed=1
    ).sample(100)
    torch.manual_seed(0)
    net = RelationNet(
        nn.Sequential(nn.Linear(20, 16), nn.ReLU()),
        embedding_dim=16,
        hidden=16,
        optimizer=lambda p: torch.optim.Adam(p, lr=3e-3),
    )
    before = float(net.evaluate(test_tasks).mean())
    net.meta_train(train, 600, progress=False)
    after = float(net.evaluate(test_tasks).mean())
    assert after > max(before, 0.2) + 0.25, (before, after)


def test_probabilities_are_a_distribution_even_without_positive_scores() -> None:
    torch.manual_seed(0)
    # A module ending in a ReLU outputs exactly 0 for every pair here.
    dead = nn.Sequential(nn.Linear(4, 1), nn.ReLU())
    nn.init.zeros_(dead[0].weight)
    nn.init.constant_(dead[0].bias, -1.0)
    support_x, support_y = torch.randn(6, 2), torch.tensor([0, 1, 2, 0, 1, 2])
    query_x = torch.randn(4, 2)
    net = RelationNet(nn.Identity(), dead).fit(support_x, support_y)
    assert torch.equal(net.scores(support_x, support_y, query_x), torch.zeros(4, 3))
    assert torch.allclose(net.predict_proba(query_x), torch.full((4, 3), 1 / 3))
    # Negative scores count as 0; a row with a positive score keeps its proportions.
    scores = torch.tensor([[-1.0, 1.0, 3.0], [-2.0, -1.0, 0.0]])
    expected = torch.tensor([[0.0, 0.25, 0.75], [1 / 3, 1 / 3, 1 / 3]])
    assert torch.allclose(net.probabilities(scores), expected)
