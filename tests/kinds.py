"""The model kinds every cross-cutting suite runs through, and helpers they share.

Every kind of fit is run through each property: the softmax on 3 classes and on 2 (one
logit), and the sigmoid on a 2-D multi-label Y, on 1-D labels of 3 classes (one-vs-rest)
and on 1-D binary labels.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

KINDS = ["softmax", "softmax-binary", "sigmoid-multilabel", "sigmoid-multiclass", "sigmoid-binary"]
# The three kinds whose validation differs: 1-D labels, 2-D Y, and the sigmoid's 1-D labels.
MAIN_KINDS = ["softmax", "sigmoid-multilabel", "sigmoid-multiclass"]
METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]


def _problem(kind, X, y):
    """(Estimator, targets) of a kind of fit, from features X and 3-class labels y."""
    if kind == "softmax":
        return SoftmaxRegressionClassifier, y
    if kind == "softmax-binary":
        return SoftmaxRegressionClassifier, (y == 1).astype(int)
    if kind == "sigmoid-multilabel":
        Y = np.column_stack([y == 0, y == 1, X[:, 0] > 0]).astype(int)
        return SigmoidMultiLabelClassifier, Y
    if kind == "sigmoid-multiclass":
        return SigmoidMultiLabelClassifier, y
    if kind == "sigmoid-binary":
        return SigmoidMultiLabelClassifier, (y == 1).astype(int)
    raise AssertionError(kind)


def _noisy_targets(kind, X, y):
    """Targets of ``kind`` on which the unpenalised fit exists (no label is separable)."""
    Estimator, T = _problem(kind, X, y)
    if kind == "sigmoid-multilabel":
        rng = np.random.default_rng(1)
        B = np.array([[1.0, -1.0, 0.5], [-1.0, 0.3, 0.8], [0.5, 0.5, -1.0]])
        T = (rng.random((X.shape[0], 3)) < 1 / (1 + np.exp(-X @ B.T))).astype(int)
    return Estimator, T


def _fit_recording_warnings(estimator, X, y, **fit_params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y, **fit_params)
    return estimator, caught


def _assert_only_documented_warnings(caught):
    """No RuntimeWarning; only ConvergenceWarning or the constant-label UserWarning."""
    runtime = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not runtime, runtime
    for w in caught:
        documented = issubclass(w.category, ConvergenceWarning) or (
            w.category is UserWarning and "of the training samples: its sigmoid" in str(w.message)
        )
        assert documented, f"{w.category.__name__}: {w.message}"
