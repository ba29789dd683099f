"""Determinism: two fits of the same data give bitwise-identical coefficients, on every path."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier, _tuning

from kinds import (
    MAIN_KINDS,
    _problem,
)


def _determinism_case(case):
    """(estimator, X, y, expected path): data of each code path of the driver."""
    rng = np.random.default_rng(0)
    if case.startswith("dense-small"):
        X = rng.standard_normal((300, 8))
        y = np.argmax(X[:, :4] + rng.standard_normal((300, 4)), axis=1)
        Estimator, T = _problem(case.removeprefix("dense-small-"), X, y)
        return Estimator(), X, T, {}
    if case == "dense-threaded-softmax":
        # 60000 x 15 x 10 classes: 9M multiply-adds per product and two blocks of 26k
        # rows a thread, above the driver's threshold for threads.
        X = rng.standard_normal((60_000, 15))
        y = np.argmax(X[:, :10] + rng.standard_normal((60_000, 10)), axis=1)
        return SoftmaxRegressionClassifier(), X, y, {"threads": True}
    if case.startswith("float32"):
        X = rng.standard_normal((2000, 10)).astype(np.float32)
        y = np.argmax(X[:, :3] + rng.standard_normal((2000, 3)), axis=1)
        Estimator, T = _problem(case.removeprefix("float32-"), X, y)
        return Estimator(), X, T, {}
    if case.startswith("sparse-csr"):
        X = sp.random(3000, 200, density=0.05, format="csr", random_state=0)
        y = np.argmax(X[:, :3].toarray() * 5 + rng.standard_normal((3000, 3)), axis=1)
        Estimator, T = _problem(case.removeprefix("sparse-csr-"), X.toarray(), y)
        return Estimator(), X, T, {}
    if case == "multilabel-batched-threaded":
        # 12 labels on 50000 x 24 = 1.2M entries of X (times 12 labels above batch_work):
        # labels batched in lockstep, and the batch of 12 logits evaluated on block threads.
        X = rng.standard_normal((50_000, 24))
        Y = (X[:, :12] + rng.standard_normal((50_000, 12)) > 0).astype(int)
        return SigmoidMultiLabelClassifier(), X, Y, {"threads": True, "batched": True}
    if case == "soft-targets-softmax":
        X = rng.standard_normal((1000, 6))
        P = rng.dirichlet(np.ones(4), size=1000)
        return SoftmaxRegressionClassifier(label_smoothing=0.1), X, P, {}
    if case == "soft-targets-sigmoid":
        X = rng.standard_normal((1000, 6))
        P = 1 / (1 + np.exp(-(X[:, :3] + rng.standard_normal((1000, 3)))))
        return SigmoidMultiLabelClassifier(class_weight="balanced"), X, P, {}
    raise AssertionError(case)


DETERMINISM_CASES = [
    *(f"dense-small-{kind}" for kind in MAIN_KINDS),
    "dense-threaded-softmax",
    "float32-softmax",
    "float32-sigmoid-multilabel",
    "sparse-csr-softmax",
    "sparse-csr-sigmoid-multilabel",
    "multilabel-batched-threaded",
    "soft-targets-softmax",
    "soft-targets-sigmoid",
]


def _path(records):
    """What the fits of a trace did: threads of each row source, batching of each solve."""
    return {
        "threads": [facts["n_threads"] for kind, facts in records if kind == "rows"],
        "batched": [facts["batched"] for kind, facts in records if kind == "solve"],
    }


@pytest.mark.parametrize("case", DETERMINISM_CASES)
def test_two_fits_give_bitwise_identical_coefficients(case):
    estimator, X, T, path = _determinism_case(case)
    with _tuning.trace() as records:
        first = clone(estimator).fit(X, T)
        second = clone(estimator).fit(X, T)
    seen = _path(records)
    # the case takes the code path it is named after
    if path.get("threads") and _tuning.n_threads_available() > 1:
        assert min(seen["threads"]) > 1, seen
    else:
        assert max(seen["threads"]) == 1, seen
    assert all(seen["batched"]) == bool(path.get("batched")), seen
    assert first.coef_.dtype == X.dtype
    np.testing.assert_array_equal(second.coef_, first.coef_)
    np.testing.assert_array_equal(second.intercept_, first.intercept_)
    np.testing.assert_array_equal(second.n_iter_, first.n_iter_)
    assert np.all(np.isfinite(first.coef_))
