import os

# scikit-learn's estimator checks include an array-API check that runs only when SciPy
# was imported with its array API support switched on.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest
import sklearn
from hypothesis import settings
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import StandardScaler

# Property-based tests draw the same examples on every run (CI stays reproducible); set
# HYPOTHESIS_PROFILE=explore to draw new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TIGHT = {"tol": 1e-10, "max_iter": 10_000}
SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])


def reference_class_weight(class_weight, y, sample_weight):
    """LogisticRegression's class_weight meaning what ours does with these weights.

    "balanced" counts the weighted samples of each class, as scikit-learn >= 1.7 does;
    before 1.7 its "balanced" ignored sample_weight, so give it those weights as a dict.
    """
    if class_weight != "balanced" or sample_weight is None or SKLEARN_VERSION >= (1, 7):
        return class_weight
    classes = np.unique(y)
    counts = np.array([sample_weight[y == c].sum() for c in classes])
    return dict(zip(classes.tolist(), counts.sum() / (len(classes) * counts)))


def lrcv(**params):
    """LogisticRegressionCV with the L2 penalty and today's attributes, whatever its version."""
    extra = {"l1_ratios": (0,), "use_legacy_attributes": False} if SKLEARN_VERSION >= (1, 8) else {}
    return LogisticRegressionCV(**params, **extra)


def lrcv_scores(fitted):
    """``scores_`` of LogisticRegressionCV as (n_folds, n_Cs), whatever its version."""
    scores = fitted.scores_
    scores = next(iter(scores.values())) if isinstance(scores, dict) else scores
    return scores.reshape(scores.shape[0], -1)


def lrcv_C(fitted):
    """``C_`` of LogisticRegressionCV as a float, whatever its version."""
    return float(np.ravel(fitted.C_)[0])


def _standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def wine():
    """3 classes, 178 x 13, standardised."""
    return _standardised(load_wine)


@pytest.fixture(scope="session")
def iris():
    """3 classes, 150 x 4, standardised."""
    return _standardised(load_iris)


@pytest.fixture(scope="session")
def cancer():
    """2 classes, 569 x 30, standardised."""
    return _standardised(load_breast_cancer)


@pytest.fixture(scope="session")
def noisy_multiclass():
    """A non-separable 4-class problem where the maximum-likelihood fit exists."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    W = np.array([[1.0, -0.5, 0.3], [-0.4, 0.8, 0.1], [0.2, 0.2, -0.9], [0.0, 0.0, 0.0]])
    Z = X @ W.T + np.array([0.3, -0.2, 0.1, 0.0])
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=p) for p in P])
    return X, y
