"""The README's study, next to a plain TPE study on the same objective (same seed)."""

from __future__ import annotations

import optuna
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score

import optunahub

X, y = load_breast_cancer(return_X_y=True, as_frame=True)


def objective(trial: optuna.Trial) -> float:
    model = HistGradientBoostingClassifier(
        learning_rate=trial.suggest_float("learning_rate", 0.01, 1.0, log=True),
        max_leaf_nodes=trial.suggest_int("max_leaf_nodes", 4, 64, log=True),
        min_samples_leaf=trial.suggest_int("min_samples_leaf", 1, 64, log=True),
        l2_regularization=trial.suggest_float("l2_regularization", 1e-8, 10.0, log=True),
        max_iter=50,
    )
    return cross_val_score(model, X, y, cv=3, scoring="balanced_accuracy").mean()


module = optunahub.load_module("samplers/meta_sampler")
samplers = {
    "MetaSampler": module.MetaSampler((X, y), space="hist_gradient_boosting", n_warm=5, seed=0),
    "TPESampler": optuna.samplers.TPESampler(seed=0),
}
for name, sampler in samplers.items():
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=15)
    best = [max(t.value for t in study.trials[: k + 1]) for k in range(len(study.trials))]
    print(f"{name}: best after 1, 5, 15 trials: {best[0]:.4f} {best[4]:.4f} {best[14]:.4f}")
