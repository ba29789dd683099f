"""Properties that hold for any data: random shapes, dtypes, scales, weights and labels.

Hypothesis draws the problems; every drawn problem is fitted and then checked against
properties that need no reference: finite outputs, probabilities that are
distributions, log-probabilities that are the log of the probabilities, predictions of a
row independent of the batch, and fits that do not change when rows or columns are
permuted, weights are replaced by repeated rows, the matrix is stored sparse, or the
data is float32.
"""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

pd = pytest.importorskip("pandas")

# SKMULTINOMIAL_EXAMPLES raises the number of drawn problems for a longer local search.
SETTINGS = settings(
    max_examples=int(os.environ.get("SKMULTINOMIAL_EXAMPLES", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FIT = {"tol": 1e-9, "max_iter": 5000}
DTYPES = ["float64", "float32", "float16", "int64", "bool", "object", "Float64", "Int64"]
# float16 and float32 hold these decimal exponents; int and bool inputs are made at scale 1.
RANGES = {"float16": 4, "float32": 30}


@st.composite
def problems(draw, multilabel=False):
    """(X as given to fit, X in float64, targets, sample_weight or None)."""
    n = draw(st.integers(8, 40))
    p = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from(DTYPES))
    exponent = draw(st.sampled_from([-300, -30, -4, 0, 4, 30, 300]))
    if dtype in ("int64", "bool", "Int64"):
        exponent = 0
    assume(abs(exponent) <= RANGES.get(dtype, 308))
    X64 = rng.normal(size=(n, p))
    if dtype in ("int64", "Int64"):
        X64 = np.round(3 * X64)
    elif dtype == "bool":
        X64 = (X64 > 0).astype(float)
    X64 = X64 * 10.0**exponent
    if dtype in ("float32", "float16"):
        X64 = X64.astype(dtype).astype(np.float64)  # the numbers the fit will see
    X = X64.astype(object) if dtype == "object" else X64
    if dtype in ("Float64", "Int64"):
        X = pd.DataFrame(X64).astype(dtype)
    elif dtype not in ("float64", "object"):
        X = X64.astype(dtype)
    if multilabel:
        y = (rng.random((n, draw(st.integers(2, 4)))) < rng.uniform(0.2, 0.8)).astype(int)
        assume(np.all(y.min(axis=0) < y.max(axis=0)))  # no constant label (it warns)
    else:
        n_classes = draw(st.integers(2, 4))
        codes = rng.integers(0, n_classes, size=n)
        assume(np.unique(codes).size >= 2)
        kind = draw(st.sampled_from(["int", "str", "float"]))
        names = {
            "int": np.arange(n_classes) * 7 - 3,
            "str": np.array(["cat", "dog", "emu", "gnu"])[:n_classes],
            "float": np.arange(n_classes) * 2.0,  # integral floats: classes
        }[kind]
        y = names[codes]
    weights = draw(st.sampled_from(["none", "positive", "with zeros"]))
    w = None
    if weights != "none":
        w = rng.uniform(0.1, 3.0, size=n)
        if weights == "with zeros":
            w[rng.random(n) < 0.3] = 0.0
        used = y[w > 0]
        assume(len(np.unique(used, axis=0)) >= 2)
        if multilabel:
            assume(np.all(used.min(axis=0) < used.max(axis=0)))
    return X, X64, y, w


def _fit(Estimator, X, y, w, **params):
    with warnings.catch_warnings():
        # Convergence at tol=1e-10 may stop on the relative decrease instead: allowed.
        warnings.filterwarnings("ignore", message="L-BFGS did not converge")
        return Estimator(**FIT, **params).fit(X, y, sample_weight=w)


def _check_outputs(clf, X):
    proba = clf.predict_proba(X)
    log_proba = clf.predict_log_proba(X)
    decision = clf.decision_function(X)
    for values in (proba, log_proba, decision):
        assert np.all(np.isfinite(values))
    assert np.all((proba >= 0) & (proba <= 1))
    positive = proba > 1e-300
    np.testing.assert_allclose(log_proba[positive], np.log(proba[positive]), rtol=1e-12, atol=1e-12)
    # A row's prediction does not depend on the other rows of the batch, up to the
    # rounding of the logits in the model's dtype (BLAS sums one row and many rows in
    # different orders): for float32, about eps32 times the size of the terms summed.
    X_float = np.asarray(X, dtype=np.float64)
    for i in (0, len(proba) // 2, len(proba) - 1):
        row = X.iloc[i : i + 1] if hasattr(X, "iloc") else X[i : i + 1]
        if clf.coef_.dtype == np.float64:
            np.testing.assert_allclose(clf.predict_proba(row)[0], proba[i], rtol=1e-12, atol=1e-15)
        else:
            terms = np.abs(X_float[i]) @ np.abs(clf.coef_.T).astype(float) + np.abs(clf.intercept_)
            np.testing.assert_allclose(
                clf.predict_log_proba(row)[0], log_proba[i], atol=1e-6 * (1 + 2 * terms.max())
            )
    return proba


@SETTINGS
@given(problem=problems())
def test_softmax_outputs_are_distributions(problem):
    X, _, y, w = problem
    clf = _fit(SoftmaxRegressionClassifier, X, y, w)
    proba = _check_outputs(clf, X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])


@SETTINGS
@given(problem=problems(multilabel=True))
def test_sigmoid_outputs_are_per_label_probabilities(problem):
    X, _, Y, w = problem
    clf = _fit(SigmoidMultiLabelClassifier, X, Y, w)
    proba = _check_outputs(clf, X)
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))


@SETTINGS
@given(problem=problems(), data=st.data())
def test_sigmoid_on_labels_outputs_are_distributions(problem, data):
    X, _, y, w = problem
    clf = _fit(SigmoidMultiLabelClassifier, X, y, w)
    proba = _check_outputs(clf, X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)


def _objective(clf, X, y, w):
    """C * sum_i w_i NLL_i + ||W||^2 / 2 (C = 1), computed here from the decision function."""
    w = np.ones(len(X)) if w is None else w
    Z = clf.decision_function(X)
    if isinstance(clf, SigmoidMultiLabelClassifier) and y.ndim == 2:
        nll = ((np.logaddexp(0, Z) - y * Z).sum(axis=1) * w).sum()
    else:
        log_proba = clf.predict_log_proba(X)
        nll = -(w * log_proba[np.arange(len(X)), np.searchsorted(clf.classes_, y)]).sum()
        if isinstance(clf, SigmoidMultiLabelClassifier):  # one-vs-rest: per-class BCE
            T = (y[:, None] == clf.classes_).astype(float)
            Z = Z[:, None] if Z.ndim == 1 else Z
            T = T[:, 1:] if Z.shape[1] == 1 else T
            nll = ((np.logaddexp(0, Z) - T * Z).sum(axis=1) * w).sum()
    return nll + 0.5 * np.sum(clf.coef_.astype(np.float64) ** 2)


def _same_fit(clf, reference, X_clf, X_ref, y, w, what):
    """The same objective value, to the stopping rule.

    The routes minimise the same function; both fits stop on the gradient test or the
    relative-decrease test. On nearly separable data the optimum is flat, so the
    coefficients (and extreme probabilities) are loosely pinned while the objective is
    not: the objective is the check.
    """
    f, f_ref = _objective(clf, X_clf, y, w), _objective(reference, X_ref, y, w)
    # tol bounds the gradient of the objective divided by C * sum(w): a gap of order
    # tol * sum(w) in the objective is within the stopping rule.
    total = len(y) if w is None else np.sum(w)
    assert abs(f - f_ref) <= 1e-6 * abs(f_ref) + 1e-7 * total, (what, f, f_ref)


def _equivalent(Estimator, X64, y, w):
    """The same fit reached by other routes; probabilities compared on X64."""
    reference = _fit(Estimator, X64, y, w)
    n, p = X64.shape
    rng = np.random.default_rng(0)
    rows, cols = rng.permutation(n), rng.permutation(p)
    routes = {
        "rows permuted": (_fit(Estimator, X64[rows], y[rows], None if w is None else w[rows]), X64),
        "columns permuted": (_fit(Estimator, X64[:, cols], y, w), X64[:, cols]),
        "sparse": (_fit(Estimator, sp.csr_matrix(X64), y, w), X64),
    }
    counts = rng.integers(0, 4, size=n)
    keep = counts if w is None else counts * (w > 0)
    kept = y[keep > 0]
    # Comparable when repeating drops no class (a class whose rows all get weight 0 is
    # still a class of the weighted fit) and, for labels, leaves none constant.
    same_classes = (
        len(np.unique(kept, axis=0)) == len(np.unique(y, axis=0))
        if y.ndim == 1
        else np.all(kept.min(axis=0) < kept.max(axis=0))
    )
    if same_classes:
        weighted = _fit(Estimator, X64, y, keep.astype(float))
        repeated = _fit(Estimator, np.repeat(X64, keep, axis=0), np.repeat(y, keep, axis=0), None)
        _same_fit(repeated, weighted, X64, X64, y, keep.astype(float), "weighted != repeated")
    for name, (clf, X_seen) in routes.items():
        _same_fit(clf, reference, X_seen, X64, y, w, name)
    if np.all(np.abs(X64) < 1e30) and np.all((X64 == 0) | (np.abs(X64) > 1e-30)):
        as32 = _fit(Estimator, X64.astype(np.float32), y, w)
        # float32 data, float64 reference: the same optimum, to float32's rounding
        f32, f64 = _objective(as32, X64, y, w), _objective(reference, X64, y, w)
        total = len(y) if w is None else np.sum(w)
        assert abs(f32 - f64) <= 1e-5 * abs(f64) + 1e-7 * total, ("float32", f32, f64)


@SETTINGS
@given(problem=problems())
def test_softmax_fit_is_equivariant(problem):
    _, X64, y, w = problem
    _equivalent(SoftmaxRegressionClassifier, X64, y, w)


@SETTINGS
@given(problem=problems(multilabel=True))
def test_sigmoid_fit_is_equivariant(problem):
    _, X64, Y, w = problem
    _equivalent(SigmoidMultiLabelClassifier, X64, Y, w)


@pytest.mark.parametrize("kind", ["softmax", "softmax-binary", "sigmoid-labels", "sigmoid"])
def test_predict_and_predict_proba_decide_from_the_same_numbers(kind):
    # Features near 1e-300 make the logits the intercepts, here 1 ulp apart: the larger
    # logit and the larger probability may then disagree in their last bit. predict
    # follows predict_proba (the failure hypothesis once found).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = np.arange(30) % 3
    if kind == "softmax-binary":
        y = y % 2
    Estimator = (
        SoftmaxRegressionClassifier if kind.startswith("softmax") else (SigmoidMultiLabelClassifier)
    )
    T = np.column_stack([y == 0, y == 1]).astype(int) if kind == "sigmoid" else y
    clf = Estimator().fit(X, T)
    n_outputs = clf.coef_.shape[0]
    one = 1.0 if n_outputs > 1 else 1e-17  # a single logit: next to 0, probability 0.5
    clf.intercept_ = np.nextafter(one, 2.0) * (np.arange(n_outputs) % 2) + one * (
        1 - np.arange(n_outputs) % 2
    )
    X_tiny = rng.normal(size=(20, 2)) * 1e-300
    proba = clf.predict_proba(X_tiny)
    if kind == "sigmoid":
        np.testing.assert_array_equal(clf.predict(X_tiny), (proba > 0.5).astype(int))
    else:
        np.testing.assert_array_equal(clf.predict(X_tiny), clf.classes_[np.argmax(proba, axis=1)])
