"""RBF support vector machines with a scale-free ``gamma``."""

from __future__ import annotations

from typing import Any

import numpy as np
from optuna.distributions import FloatDistribution
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.compose import TransformedTargetRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.utils.validation import check_is_fitted, validate_data

from metaopt.spaces._preprocessing import scaled_pipeline
from metaopt.spaces._space import SearchSpace

#: libsvm iterations are bounded so that a badly conditioned configuration stays cheap.
MAX_ITER = 200_000


def _scale_gamma(X: np.ndarray, gamma: float) -> float:
    """``gamma`` times scikit-learn's ``"scale"`` value ``1 / (n_features * X.var())``."""
    variance = float(np.var(X))
    return gamma / (X.shape[1] * variance) if variance > 0 else gamma


class RelativeGammaSVC(ClassifierMixin, BaseEstimator):
    """RBF :class:`~sklearn.svm.SVC` whose ``gamma`` is relative to ``gamma="scale"``.

    ``gamma=1`` reproduces scikit-learn's default; the relative scale makes good values
    comparable across datasets with different numbers of features.

    Args:
        C: Regularisation parameter.
        gamma: Multiplier of ``1 / (n_features * X.var())``.
        max_iter: Bound on libsvm iterations.
    """

    def __init__(self, C: float = 1.0, gamma: float = 1.0, max_iter: int = MAX_ITER) -> None:
        self.C = C
        self.gamma = gamma
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any) -> RelativeGammaSVC:
        X, y = validate_data(self, X, y)
        self.gamma_ = _scale_gamma(X, self.gamma)
        self.svc_ = SVC(C=self.C, gamma=self.gamma_, kernel="rbf", max_iter=self.max_iter)
        self.svc_.fit(X, y)
        self.classes_ = self.svc_.classes_
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.svc_.decision_function(validate_data(self, X, reset=False))

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.svc_.predict(validate_data(self, X, reset=False))


class RelativeGammaSVR(RegressorMixin, BaseEstimator):
    """RBF :class:`~sklearn.svm.SVR` whose ``gamma`` is relative to ``gamma="scale"``.

    Args:
        C: Regularisation parameter.
        gamma: Multiplier of ``1 / (n_features * X.var())``.
        epsilon: Width of the insensitive tube (in units of the target's scale when the
            target is standardised, as the ``svm`` space does).
        max_iter: Bound on libsvm iterations.
    """

    def __init__(
        self, C: float = 1.0, gamma: float = 1.0, epsilon: float = 0.1, max_iter: int = MAX_ITER
    ) -> None:
        self.C = C
        self.gamma = gamma
        self.epsilon = epsilon
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any) -> RelativeGammaSVR:
        X, y = validate_data(self, X, y, y_numeric=True)
        self.gamma_ = _scale_gamma(X, self.gamma)
        self.svr_ = SVR(
            C=self.C, gamma=self.gamma_, epsilon=self.epsilon, kernel="rbf", max_iter=self.max_iter
        )
        self.svr_.fit(X, y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self.svr_.predict(validate_data(self, X, reset=False))


def svm(task: str) -> SearchSpace:
    """RBF SVM; ``gamma`` is a multiplier of scikit-learn's ``"scale"`` heuristic."""
    distributions: dict[str, Any] = {
        "C": FloatDistribution(2.0**-5, 2.0**10, log=True),
        "gamma": FloatDistribution(1e-3, 1e2, log=True),
    }
    default: dict[str, Any] = {"C": 1.0, "gamma": 1.0}
    if task == "classification":

        def factory(params: dict[str, Any]) -> Any:
            return scaled_pipeline(RelativeGammaSVC(**params))

    else:
        distributions["epsilon"] = FloatDistribution(1e-3, 1.0, log=True)
        default["epsilon"] = 0.1

        def factory(params: dict[str, Any]) -> Any:
            model = TransformedTargetRegressor(
                RelativeGammaSVR(**params), transformer=StandardScaler()
            )
            return scaled_pipeline(model)

    return SearchSpace(
        "svm",
        task,
        distributions,
        default,
        factory,
        description="RBF SVM, gamma relative to 1/(n_features * var(X)); scaled, one-hot",
    )
