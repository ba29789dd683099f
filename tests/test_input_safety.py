"""Inputs: never modified by fit or predict; read-only and memory-mapped inputs work;
bad input raises an error that names the problem and changes nothing of the caller's."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skmultinomial import SoftmaxRegressionClassifier

from kinds import (
    KINDS,
    MAIN_KINDS,
    METHODS,
    _problem,
)


def _fingerprint(obj):
    """A deep copy of the values plus the metadata that a caller could observe."""
    pd = pytest.importorskip("pandas") if type(obj).__module__.startswith("pandas") else None
    if pd is not None:
        return ("pandas", obj.copy(deep=True))
    if sp.issparse(obj):
        return (
            "sparse",
            obj.format,
            obj.shape,
            *(a.copy() for a in (obj.data, obj.indices, obj.indptr)),
            tuple(a.flags.writeable for a in (obj.data, obj.indices, obj.indptr)),
        )
    if isinstance(obj, np.ndarray):
        flags = obj.flags
        return (
            "ndarray",
            type(obj),
            np.array(obj, copy=True),
            obj.dtype,
            obj.shape,
            obj.strides,
            (flags.writeable, flags.c_contiguous, flags.f_contiguous, flags.owndata),
        )
    return ("other", copy.deepcopy(obj))


def _assert_unchanged(obj, fingerprint):
    kind = fingerprint[0]
    if kind == "pandas":
        pd = pytest.importorskip("pandas")
        expected = fingerprint[1]
        if isinstance(expected, pd.DataFrame):
            pd.testing.assert_frame_equal(obj, expected, check_exact=True)
        else:
            pd.testing.assert_series_equal(obj, expected, check_exact=True)
    elif kind == "sparse":
        _, fmt, shape, data, indices, indptr, writeable = fingerprint
        assert (obj.format, obj.shape) == (fmt, shape)
        np.testing.assert_array_equal(obj.data, data, err_msg="sparse data changed")
        np.testing.assert_array_equal(obj.indices, indices, err_msg="sparse indices changed")
        np.testing.assert_array_equal(obj.indptr, indptr, err_msg="sparse indptr changed")
        assert tuple(a.flags.writeable for a in (obj.data, obj.indices, obj.indptr)) == writeable
    elif kind == "ndarray":
        _, cls, values, dtype, shape, strides, flags = fingerprint
        f = obj.flags
        assert type(obj) is cls
        assert (obj.dtype, obj.shape, obj.strides) == (dtype, shape, strides)
        assert (f.writeable, f.c_contiguous, f.f_contiguous, f.owndata) == flags
        np.testing.assert_array_equal(np.asarray(obj), values)
    else:
        assert _same(obj, fingerprint[1]), (obj, fingerprint[1])


def _same(a, b):
    """Equality of parameters and attributes: arrays by value (NaN equal to NaN)."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same(a[k], b[k]) for k in a)
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, z) for x, z in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a is b or a == b


def _stored(array, storage, path):
    """``array`` as the caller might hold it: writeable, read-only, or a read-only memmap."""
    if storage == "writeable":
        return np.array(array, copy=True)
    if storage == "read-only":
        out = np.array(array, copy=True)
        out.setflags(write=False)
        return out
    if storage == "memmap":
        order = "F" if array.ndim > 1 and np.isfortran(array) else "C"
        kw = {"dtype": array.dtype, "shape": array.shape, "order": order}
        written = np.memmap(path, mode="w+", **kw)
        written[...] = array
        written.flush()
        del written
        mapped = np.memmap(path, mode="r", **kw)
        assert not mapped.flags.writeable
        return mapped
    raise AssertionError(storage)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("storage", ["writeable", "read-only", "memmap"])
@pytest.mark.parametrize("kind", [*KINDS, "softmax-soft-targets"])
def test_fit_and_predict_leave_arrays_unchanged_and_accept_read_only_memory(
    kind, storage, dtype, wine, tmp_path
):
    X, y = wine
    if kind == "softmax-soft-targets":
        rng = np.random.default_rng(0)
        Estimator = SoftmaxRegressionClassifier
        T = 0.8 * np.eye(3)[y] + 0.2 * rng.dirichlet(np.ones(3), size=y.size)
    else:
        Estimator, T = _problem(kind, X, y)
    X = np.asfortranarray(X.astype(dtype))  # not C-contiguous either
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=y.size)
    params = {"class_weight": "balanced", "label_smoothing": 0.05, "cov_type": "nonrobust"}
    reference = Estimator(**params).fit(
        X.copy(order="K"), T.copy(order="K"), sample_weight=w.copy()
    )

    X_in, T_in, w_in = (
        _stored(a, storage, tmp_path / f"{name}.dat") for name, a in (("X", X), ("T", T), ("w", w))
    )
    prints = [_fingerprint(a) for a in (X_in, T_in, w_in)]
    clf = Estimator(**params).fit(X_in, T_in, sample_weight=w_in)
    for a, fp in zip((X_in, T_in, w_in), prints):
        _assert_unchanged(a, fp)
    np.testing.assert_array_equal(clf.coef_, reference.coef_)
    np.testing.assert_array_equal(clf.intercept_, reference.intercept_)
    for method in METHODS:
        np.testing.assert_array_equal(getattr(clf, method)(X_in), getattr(reference, method)(X))
        _assert_unchanged(X_in, prints[0])
    clf.score(X_in, T_in, sample_weight=w_in)
    for a, fp in zip((X_in, T_in, w_in), prints):
        _assert_unchanged(a, fp)


@pytest.mark.parametrize("kind", KINDS)
def test_pandas_inputs_are_left_unchanged(kind, wine):
    pd = pytest.importorskip("pandas")
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    frame = pd.DataFrame(X, columns=[f"feature {j}" for j in range(X.shape[1])])
    frame["feature 0"] = np.round(frame["feature 0"] * 10).astype(np.int64)  # mixed dtypes
    frame.index = pd.RangeIndex(100, 100 + len(frame), name="sample")
    targets = (
        pd.DataFrame(T, columns=["a", "b", "c"], index=frame.index)
        if T.ndim == 2
        else pd.Series(T, index=frame.index, name="target")
    )
    weights = pd.Series(np.linspace(0.5, 2.0, len(frame)), index=frame.index, name="weight")
    prints = [_fingerprint(a) for a in (frame, targets, weights)]
    clf = Estimator(class_weight="balanced").fit(frame, targets, sample_weight=weights)
    reference = Estimator(class_weight="balanced").fit(
        frame.to_numpy(dtype=np.float64), T, sample_weight=weights.to_numpy()
    )
    for a, fp in zip((frame, targets, weights), prints):
        _assert_unchanged(a, fp)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-12, atol=1e-14)
    for method in METHODS:
        getattr(clf, method)(frame)
    clf.score(frame, targets, sample_weight=weights)
    for a, fp in zip((frame, targets, weights), prints):
        _assert_unchanged(a, fp)


def _sparse(dense, fmt, layout):
    """``dense`` as a sparse matrix of a given layout, all three describing one matrix.

    ``unsorted-indices`` reverses the column indices within each row (column for CSC);
    ``duplicate-entries`` stores each value as two halves at the same position. Both are
    valid scipy matrices (not in canonical format).
    """
    canonical = sp.csr_matrix(dense) if fmt == "csr" else sp.csc_matrix(dense)
    if layout == "canonical":
        return canonical
    ptr, ind, data = canonical.indptr, canonical.indices, canonical.data
    new_ind, new_data, new_ptr = [], [], [0]
    for k in range(len(ptr) - 1):
        i, v = ind[ptr[k] : ptr[k + 1]], data[ptr[k] : ptr[k + 1]]
        if layout == "unsorted-indices":
            i, v = i[::-1], v[::-1]
        else:
            i, v = np.repeat(i, 2), np.repeat(v / 2, 2)
        new_ind.append(i)
        new_data.append(v)
        new_ptr.append(new_ptr[-1] + len(i))
    cls = sp.csr_matrix if fmt == "csr" else sp.csc_matrix
    out = cls(
        (np.concatenate(new_data), np.concatenate(new_ind), np.array(new_ptr)),
        shape=dense.shape,
    )
    np.testing.assert_array_equal(out.toarray(), dense)
    return out


@pytest.mark.parametrize("storage", ["writeable", "read-only"])
@pytest.mark.parametrize("layout", ["canonical", "unsorted-indices", "duplicate-entries"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_sparse_input_is_left_unchanged(kind, fmt, layout, storage, wine):
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    dense = np.where(np.abs(X) > 0.7, X, 0.0)
    A = _sparse(dense, fmt, layout)
    if storage == "read-only":
        for part in (A.data, A.indices, A.indptr):
            part.setflags(write=False)
    fingerprint = _fingerprint(A)
    clf = Estimator().fit(A, T)
    _assert_unchanged(A, fingerprint)
    np.testing.assert_array_equal(A.toarray(), dense)
    reference = Estimator().fit(dense, T)
    np.testing.assert_allclose(clf.coef_, reference.coef_, rtol=1e-8, atol=1e-10)
    for method in METHODS:
        np.testing.assert_allclose(
            getattr(clf, method)(A), getattr(reference, method)(dense), rtol=1e-8, atol=1e-10
        )
        _assert_unchanged(A, fingerprint)


def _with_entry(a, index, value, dtype=None):
    out = np.array(a, dtype=dtype if dtype is not None else a.dtype, copy=True)
    out[index] = value
    return out


def _first(T):
    return (3,) if T.ndim == 1 else (3, 0)


ALL = tuple(MAIN_KINDS)
SOFTMAX = ("softmax",)
LABELS_1D = ("softmax", "sigmoid-multiclass")
MULTILABEL = ("sigmoid-multilabel",)
SIGMOIDS = ("sigmoid-multilabel", "sigmoid-multiclass")

# case: (kinds, build(X, T, w) -> (X, T, w, params), exception, message fragment)
BAD_FIT = {
    "X-nan": (ALL, lambda X, T, w: (_with_entry(X, (3, 2), np.nan), T, w, {}),
              ValueError, "Input X contains NaN"),
    "X-inf": (ALL, lambda X, T, w: (_with_entry(X, (0, 0), -np.inf), T, w, {}),
              ValueError, "Input X contains infinity"),
    "X-complex": (ALL, lambda X, T, w: (X + 1j, T, w, {}),
                  ValueError, "Complex data not supported"),
    "X-strings": (ALL, lambda X, T, w: (_with_entry(X, (1, 1), "a", object), T, w, {}),
                  ValueError, "could not convert string to float: 'a'"),
    "X-1d": (ALL, lambda X, T, w: (X[:, 0], T, w, {}),
             ValueError, "Expected 2D array, got 1D array instead"),
    "X-3d": (ALL, lambda X, T, w: (X[:, :, None], T, w, {}),
             ValueError, "Found array with dim 3"),
    "no-samples": (ALL, lambda X, T, w: (X[:0], T[:0], None, {}),
                   ValueError, r"Found array with 0 sample\(s\)"),
    "no-features": (ALL, lambda X, T, w: (X[:, :0], T, w, {}),
                    ValueError, r"Found array with 0 feature\(s\)"),
    "y-too-short": (ALL, lambda X, T, w: (X, T[:-1], None, {}),
                    ValueError, r"inconsistent numbers of samples: \[178, 177\]"),
    "y-nan": (ALL, lambda X, T, w: (X, _with_entry(T, _first(T), np.nan, float), w, {}),
              ValueError, "Input y contains NaN"),
    "y-none": (ALL, lambda X, T, w: (X, _with_entry(T, _first(T), None, object), w, {}),
               ValueError, "Unknown label type: unknown|None"),
    "y-none-among-strings": (
        LABELS_1D,
        lambda X, T, w: (X, _with_entry(np.array(["a", "b", "c"], dtype=object)[T], 3, None),
                         w, {}),
        # what scikit-learn's LogisticRegression raises too (from np.unique)
        (TypeError, ValueError), "NoneType"),
    "single-class": (LABELS_1D, lambda X, T, w: (X, np.full(T.shape, "a"), w, {}),
                     ValueError, "at least 2 classes.*only one class: 'a'"),
    "continuous-y": (LABELS_1D, lambda X, T, w: (X, X[:, 0], w, {}),
                     ValueError, "Unknown label type: continuous"),
    "multilabel-Y-to-softmax": (SOFTMAX,
                                lambda X, T, w: (X, np.column_stack([T == 0, T > 0, T > 1]) * 1,
                                                 w, {}),
                                ValueError, "use SigmoidMultiLabelClassifier"),
    "Y-outside-0-1": (MULTILABEL, lambda X, T, w: (X, _with_entry(T, (4, 2), 2), w, {}),
                      ValueError, r"entries in \[0, 1\].*Y\[4, 2\] is 2"),
    "Y-negative": (MULTILABEL, lambda X, T, w: (X, _with_entry(T, (4, 2), -1), w, {}),
                   ValueError, r"entries in \[0, 1\].*Y\[4, 2\] is -1"),
    "Y-multiclass-multioutput": (MULTILABEL,
                                 lambda X, T, w: (X, T + np.arange(3) * (T == 1), w, {}),
                                 ValueError, r"multiclass-multioutput.*MultiLabelBinarizer"),
    "Y-strings": (MULTILABEL, lambda X, T, w: (X, np.where(T == 1, "yes", "no"), w, {}),
                  ValueError, r"0/1 indicator|numeric|MultiLabelBinarizer"),
    "sample-weight-too-short": (ALL, lambda X, T, w: (X, T, w[:-1], {}),
                                ValueError, r"sample_weight.shape == \(177,\), expected \(178,\)"),
    "sample-weight-2d": (ALL, lambda X, T, w: (X, T, w[:, None], {}),
                         ValueError, "Sample weights must be 1D array or scalar"),
    "sample-weight-negative": (ALL, lambda X, T, w: (X, T, _with_entry(w, 5, -1.0), {}),
                               ValueError, "Negative values in data passed to `sample_weight`"),
    "sample-weight-nan": (ALL, lambda X, T, w: (X, T, _with_entry(w, 5, np.nan), {}),
                          ValueError, "Input sample_weight contains NaN"),
    "sample-weight-inf": (ALL, lambda X, T, w: (X, T, _with_entry(w, 5, np.inf), {}),
                          ValueError, "Input sample_weight contains infinity"),
    "sample-weight-all-zero": (ALL, lambda X, T, w: (X, T, np.zeros_like(w), {}),
                               ValueError, "at least one non-zero"),
    "class-weight-unknown-class": (LABELS_1D,
                                   lambda X, T, w: (X, T, w, {"class_weight": {0: 1.0, 7: 2.0}}),
                                   ValueError, r"class_weight names classes that are not in the "
                                   r"data: \[7\]"),
    "class-weight-unknown-label-value": (
        MULTILABEL, lambda X, T, w: (X, T, w, {"class_weight": [{0: 1.0, 2: 3.0}, {}, {}]}),
        ValueError, r"class_weight\[0\] must be a dict with keys 0 and/or 1"),
    "class-weight-list-too-short": (
        MULTILABEL, lambda X, T, w: (X, T, w, {"class_weight": [{1: 2.0}]}),
        ValueError, "3 labels here, got 1 entries"),
    "class-weight-dict-for-multilabel": (
        MULTILABEL, lambda X, T, w: (X, T, w, {"class_weight": {0: 1.0, 1: 2.0}}),
        ValueError, "a list of one dict"),
    "threshold-above-1": (SIGMOIDS, lambda X, T, w: (X, T, w, {"threshold": 1.5}),
                          InvalidParameterError, "'threshold' parameter"),
    "threshold-0": (SIGMOIDS, lambda X, T, w: (X, T, w, {"threshold": 0.0}),
                    InvalidParameterError, "'threshold' parameter"),
    "threshold-per-label-1": (
        MULTILABEL, lambda X, T, w: (X, T, w, {"threshold": [0.5, 1.0, 0.2]}),
        ValueError, r"threshold must lie in \(0, 1\), got \[0.5 1.  0.2\]"),
    "threshold-per-label-negative": (
        MULTILABEL, lambda X, T, w: (X, T, w, {"threshold": np.array([-0.1, 0.5, 0.5])}),
        ValueError, r"threshold must lie in \(0, 1\)"),
    "threshold-per-label-nan": (
        MULTILABEL, lambda X, T, w: (X, T, w, {"threshold": [0.5, np.nan, 0.5]}),
        ValueError, r"threshold must lie in \(0, 1\)"),
    "threshold-per-label-wrong-length": (
        MULTILABEL, lambda X, T, w: (X, T, w, {"threshold": [0.5, 0.5]}),
        ValueError, r"one entry per label \(3\), got shape \(2,\)"),
}  # fmt: skip


@pytest.mark.parametrize(
    "kind, case",
    [(kind, case) for case, spec in BAD_FIT.items() for kind in spec[0]],
    ids=[f"{kind}-{case}" for case, spec in BAD_FIT.items() for kind in spec[0]],
)
def test_bad_input_at_fit_raises_a_named_error_and_changes_nothing(kind, case, wine):
    _, build, exception, match = BAD_FIT[case]
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    w = np.linspace(0.5, 2.0, y.size)
    X_bad, T_bad, w_bad, params = build(X.copy(), T.copy(), w.copy())
    estimator = Estimator(**params)
    inputs = (X_bad, T_bad, w_bad, params, estimator.get_params())
    prints = [_fingerprint(a) for a in inputs]
    with pytest.raises(exception, match=match):
        estimator.fit(X_bad, T_bad, sample_weight=w_bad)
    for a, fp in zip((X_bad, T_bad, w_bad, params, estimator.get_params()), prints):
        _assert_unchanged(a, fp)


BAD_PREDICT = {
    "X-nan": (lambda X: _with_entry(X, (3, 2), np.nan), ValueError, "Input X contains NaN"),
    "X-inf": (lambda X: _with_entry(X, (0, 0), np.inf), ValueError, "Input X contains infinity"),
    "X-complex": (lambda X: X + 1j, ValueError, "Complex data not supported"),
    "X-strings": (lambda X: _with_entry(X, (1, 1), "a", object),
                  ValueError, "could not convert string to float: 'a'"),
    "X-1d": (lambda X: X[0], ValueError, "Expected 2D array, got 1D array instead"),
    "X-3d": (lambda X: X[:, :, None], ValueError, "Found array with dim 3"),
    "no-samples": (lambda X: X[:0], ValueError, r"Found array with 0 sample\(s\)"),
    "no-features": (lambda X: X[:, :0], ValueError, r"Found array with 0 feature\(s\)"),
    "feature-count": (lambda X: X[:, :5], ValueError,
                      "X has 5 features, but .* is expecting 13 features"),
    "feature-names": (None, ValueError, "feature names should match those that were passed"),
    "not-fitted": (None, NotFittedError, "is not fitted yet"),
}  # fmt: skip


@pytest.fixture(scope="module")
def fitted(wine):
    """A model of each kind, fitted on wine."""
    X, y = wine
    models = {}
    for kind in KINDS:
        Estimator, T = _problem(kind, X, y)
        models[kind] = Estimator().fit(X, T)
    return models


@pytest.mark.parametrize("case", list(BAD_PREDICT))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_at_predict_raises_a_named_error_and_changes_nothing(
    kind, method, case, wine, fitted
):
    build, exception, match = BAD_PREDICT[case]
    X, y = wine
    clf = fitted[kind]
    if case == "feature-names":
        pd = pytest.importorskip("pandas")
        Estimator, T = _problem(kind, X, y)
        clf = Estimator().fit(pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])]), T)
        X_bad = pd.DataFrame(X, columns=[f"d{j}" for j in range(X.shape[1])])
    elif case == "not-fitted":
        clf = clone(clf)
        X_bad = X.copy()
    else:
        X_bad = build(X.copy())
    state = {k: copy.deepcopy(v) for k, v in vars(clf).items()}
    fingerprint = _fingerprint(X_bad)
    with pytest.raises(exception, match=match):
        getattr(clf, method)(X_bad)
    _assert_unchanged(X_bad, fingerprint)
    assert vars(clf).keys() == state.keys()
    for key, value in state.items():
        assert _same(getattr(clf, key), value), key


@pytest.mark.parametrize(
    "threshold",
    [1.5, 0.0, 1.0, -0.1, np.nan, [0.5, 1.0, 0.5], [0.5, np.nan, 0.5], [0.0, 0.5, 0.5]],
    ids=["1.5", "0", "1", "-0.1", "nan", "label-at-1", "label-nan", "label-at-0"],
)
def test_threshold_outside_zero_one_set_after_fit_fails_at_predict(threshold, fitted, wine):
    X, y = wine
    Estimator, Y = _problem("sigmoid-multilabel", X, y)
    clf = Estimator().fit(X, Y)
    clf.set_params(threshold=threshold)
    fingerprint = _fingerprint(X)
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\)"):
        clf.predict(X)
    _assert_unchanged(X, fingerprint)
    # probabilities do not depend on the threshold
    np.testing.assert_array_equal(
        clf.predict_proba(X), fitted["sigmoid-multilabel"].predict_proba(X)
    )
