"""Model-based metafeatures: the shape of a decision tree fitted to the model rows.

The tree is fitted once on the rows and encoding of :func:`design_matrix` (at most
``max_rows_models`` rows): unpruned for classification (as pymfe), with ``min_samples_leaf=5``
for regression so that it does not grow one leaf per row. Counts that grow with the number of
rows (leaves, nodes) are therefore those of the subsample; the per-instance ratios are
comparable across dataset sizes.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from metaopt.metafeatures._landmarking import _target
from metaopt.metafeatures._preprocess import PreparedData, Undefined, design_matrix
from metaopt.metafeatures._summary import FeatureFunction, summarised


def fitted_tree(data: PreparedData) -> dict[str, np.ndarray | float]:
    """Structure of the fitted tree: per-node depth, leaf flags, used features, importances."""
    if data.deadline is not None and time.monotonic() > data.deadline:
        raise Undefined("skipped: budget_s was spent before this feature")
    X, owners = data.memo("design", design_matrix)
    if X.shape[1] == 0:
        raise Undefined("no informative column to grow a tree on (all constant)")
    y = _target(data)
    if data.task == "classification":
        tree = DecisionTreeClassifier(random_state=data.random_state)
    else:
        tree = DecisionTreeRegressor(min_samples_leaf=5, random_state=data.random_state)
    tree.fit(X, y)
    structure = tree.tree_
    depth = np.zeros(structure.node_count, dtype=np.int64)
    for node in range(structure.node_count):  # children always have larger ids than parents
        for child in (structure.children_left[node], structure.children_right[node]):
            if child >= 0:
                depth[child] = depth[node] + 1
    is_leaf = structure.children_left < 0
    importance = np.zeros(data.n_features)
    np.add.at(importance, owners, tree.feature_importances_)
    used = np.unique(owners[structure.feature[~is_leaf]])
    return {
        "depth": depth,
        "is_leaf": is_leaf,
        "importance": importance,
        "n_used": float(used.size),
        "n_rows": float(X.shape[0]),
    }


def _tree(data: PreparedData) -> dict:
    return data.memo("tree", fitted_tree)


def _n_leaves(data: PreparedData) -> float:
    return float(_tree(data)["is_leaf"].sum())


def _n_nodes(data: PreparedData) -> float:
    """Internal (splitting) nodes, as pymfe ``nodes``."""
    return float((~_tree(data)["is_leaf"]).sum())


def _leaves_per_class(data: PreparedData) -> float:
    if data.task != "classification":
        raise Undefined("undefined for regression")
    return _n_leaves(data) / data.n_classes


def _branch_lengths(data: PreparedData) -> np.ndarray:
    tree = _tree(data)
    return tree["depth"][tree["is_leaf"]].astype(float)


def _nodes_per_level(data: PreparedData) -> np.ndarray:
    tree = _tree(data)
    internal_depths = tree["depth"][~tree["is_leaf"]]
    if internal_depths.size == 0:
        raise Undefined("the tree is a single leaf")
    return np.bincount(internal_depths).astype(float)


FEATURES: dict[str, FeatureFunction] = {
    "model_based.n_leaves": _n_leaves,
    "model_based.n_nodes": _n_nodes,
    "model_based.depth": lambda d: float(_tree(d)["depth"].max()),
    "model_based.leaves_per_instance": lambda d: _n_leaves(d) / _tree(d)["n_rows"],
    "model_based.nodes_per_instance": lambda d: _n_nodes(d) / _tree(d)["n_rows"],
    "model_based.nodes_per_feature": lambda d: _n_nodes(d) / d.n_features,
    "model_based.leaves_per_class": _leaves_per_class,
    "model_based.feature_usage": lambda d: _tree(d)["n_used"] / d.n_features,
    **summarised("model_based.branch_length", _branch_lengths, key="branch_length"),
    **summarised("model_based.nodes_per_level", _nodes_per_level, key="nodes_per_level"),
    **summarised("model_based.importance", lambda d: _tree(d)["importance"], key="importance"),
}
