"""Reliability: threads and processes, persistence, determinism, untouched and read-only
inputs, bad input at fit and predict time, and extreme but valid data.

Every model kind is run through each property: the softmax on 3 classes and on 2 (one
logit), and the sigmoid on a 2-D multi-label Y, on 1-D labels of 3 classes (one-vs-rest)
and on 1-D binary labels.
"""

import copy
import json
import os
import pickle
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import TIGHT
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_info, threadpool_limits

import skmultinomial._driver as driver
import skmultinomial._lockstep as lockstep
from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier
from skmultinomial.metrics import binary_cross_entropy_scorer

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


# ------------------------------------------------------------------------------------
# Fingerprints of the caller's objects, to check that nothing of theirs changes.


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


# ------------------------------------------------------------------------------------
# 1. Concurrency


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("kind", KINDS)
def test_predictions_from_eight_threads_equal_sequential_predictions(kind, container, wine):
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    clf = Estimator().fit(X, T)
    coef, intercept = clf.coef_.copy(), clf.intercept_.copy()
    rng = np.random.default_rng(0)
    X_new = rng.standard_normal((16_000, X.shape[1]))
    if container == "csr":
        X_new[np.abs(X_new) < 0.5] = 0.0
        X_new = sp.csr_matrix(X_new)
    slices = [slice(i * 2000, (i + 1) * 2000) for i in range(8)]
    expected_whole = {m: getattr(clf, m)(X_new) for m in METHODS}
    expected_slice = [{m: getattr(clf, m)(X_new[sl]) for m in METHODS} for sl in slices]
    start = threading.Barrier(8, timeout=60)

    def work(i):
        start.wait()  # all eight threads predict at once
        out = []
        for _ in range(3):
            for m in METHODS:
                out.append((m, "slice", getattr(clf, m)(X_new[slices[i]])))
                out.append((m, "whole", getattr(clf, m)(X_new)))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for i, out in enumerate(results):
        for method, part, got in out:
            expected = expected_whole[method] if part == "whole" else expected_slice[i][method]
            np.testing.assert_array_equal(got, expected, err_msg=f"{method} {part} thread {i}")
    np.testing.assert_array_equal(clf.coef_, coef)
    np.testing.assert_array_equal(clf.intercept_, intercept)


def _blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


@pytest.fixture
def blas_threads_restored():
    """Put the BLAS thread count back as it was (fits in threads may leave it changed,
    see test_overlapping_fits_in_threads_leave_the_blas_thread_count_as_it_was)."""
    before = _blas_threads()
    yield
    if _blas_threads() != before:
        # from a thread that then ends, so that no live thread keeps control of BLAS
        setter = threading.Thread(
            target=threadpool_limits, kwargs={"limits": max(before), "user_api": "blas"}
        )
        setter.start()
        setter.join()


@pytest.mark.parametrize("kind", ["softmax", "sigmoid-multilabel"])
def test_fits_in_threads_equal_sequential_fits(kind, wine, blas_threads_restored):
    # Separate estimators fitted at once on 4 threads (as GridSearchCV with a threading
    # backend does): the same coefficients as one after the other. One data set is large
    # enough for the driver's own block threads.
    X, y = wine
    rng = np.random.default_rng(0)
    X_big = rng.standard_normal((60_000, 15))
    y_big = np.argmax(X_big[:, :3] + rng.standard_normal((60_000, 3)), axis=1)
    Estimator, T = _problem(kind, X, y)
    _, T_big = _problem(kind, X_big, y_big)
    jobs = [(C, X, T) for C in (0.1, 1.0, 10.0)] + [(1.0, X_big, T_big)]
    sequential = [Estimator(C=C).fit(A, B) for C, A, B in jobs]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda job: Estimator(C=job[0]).fit(job[1], job[2]), jobs))
    for seq, thr in zip(sequential, threaded):
        np.testing.assert_array_equal(thr.coef_, seq.coef_)
        np.testing.assert_array_equal(thr.intercept_, seq.intercept_)


# Run in a fresh interpreter: what is checked is process-wide state (the BLAS thread
# count), which a failure would otherwise leave changed for every later test.
OVERLAPPING_FITS = r"""
import json, sys, threading
from sklearn.datasets import load_wine
from threadpoolctl import threadpool_info
import skmultinomial
import skmultinomial._driver as driver
import skmultinomial._lockstep as lockstep

Estimator = getattr(skmultinomial, sys.argv[1])
X, y = load_wine(return_X_y=True)

def blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

first_inside, first_done = threading.Event(), threading.Event()
both_inside = threading.Barrier(2, timeout=60)
make_evaluator, run = driver._evaluator, lockstep.lbfgs_lockstep
inside, errors = {}, []

def gated_evaluator(*args, **kwargs):  # called just before a fit limits BLAS
    if threading.current_thread().name == "second":
        first_inside.wait(60)  # the second fit starts while the first one runs
    return make_evaluator(*args, **kwargs)

def gated_run(*args, **kwargs):  # called inside each fit's BLAS limit
    name = threading.current_thread().name
    inside[name] = blas_threads()
    if name == "first":
        first_inside.set()
    both_inside.wait()
    if name == "second":  # ... and ends after it
        first_done.wait(60)
    return run(*args, **kwargs)

driver._evaluator = gated_evaluator
lockstep.lbfgs_lockstep = gated_run

def fit(name):
    try:
        Estimator().fit(X, y)
    except BaseException as exc:
        errors.append(repr(exc))
        both_inside.abort()
    finally:
        if name == "first":
            first_inside.set()
            first_done.set()

before = blas_threads()
threads = [threading.Thread(target=fit, args=(n,), name=n) for n in ("first", "second")]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
print(json.dumps({"before": before, "inside": inside, "after": blas_threads(), "errors": errors}))
"""


@pytest.mark.parametrize("Estimator", [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier])
def test_overlapping_fits_in_threads_leave_the_blas_thread_count_as_it_was(Estimator):
    # Each fit limits BLAS to one thread and restores the limit when it ends. Two fits in
    # two threads, the second starting while the first runs and ending after it (the
    # order is forced), must leave the process's BLAS thread count as it was before.
    done = subprocess.run(
        [sys.executable, "-c", OVERLAPPING_FITS, Estimator.__name__],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "2"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert not report["errors"], report
    assert report["before"] and all(n == 2 for n in report["before"]), report
    assert all(n == 1 for threads in report["inside"].values() for n in threads), report
    assert report["after"] == report["before"], (
        f"BLAS threads before the fits {report['before']}, after {report['after']}"
    )


@pytest.mark.parametrize("kind", ["softmax", "sigmoid-multilabel"])
def test_grid_search_in_two_worker_processes_equals_one_process(kind, wine):
    X, y = wine
    X, y = X[::2], y[::2]
    Estimator, T = _problem(kind, X, y)
    scoring = "neg_log_loss" if kind == "softmax" else binary_cross_entropy_scorer
    results = {}
    for n_jobs in (1, 2):
        search = GridSearchCV(
            Estimator(tol=1e-8),
            {"C": [0.01, 0.1, 1.0, 10.0]},
            cv=KFold(3, shuffle=True, random_state=0),
            scoring=scoring,
            n_jobs=n_jobs,
        ).fit(X, T)
        results[n_jobs] = search
    one, two = results[1], results[2]
    np.testing.assert_allclose(
        two.cv_results_["mean_test_score"], one.cv_results_["mean_test_score"], rtol=1e-10
    )
    assert np.all(np.isfinite(one.cv_results_["mean_test_score"]))
    np.testing.assert_allclose(two.best_estimator_.coef_, one.best_estimator_.coef_, rtol=1e-10)


# ------------------------------------------------------------------------------------
# 2. Persistence


def _fitted_for_persistence(kind, wine):
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    params = {"cov_type": "nonrobust"}
    if kind == "sigmoid-multilabel":
        params["threshold"] = [0.3, 0.5, 0.7]
    return Estimator(**params).fit(X, T), X


def _assert_same_model(restored, original, X):
    assert type(restored) is type(original)
    assert restored.get_params() == original.get_params()
    for method in METHODS:
        np.testing.assert_array_equal(getattr(restored, method)(X), getattr(original, method)(X))
    np.testing.assert_array_equal(restored.coef_, original.coef_)
    np.testing.assert_array_equal(restored.classes_, original.classes_)
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(restored.summary(), original.summary(), check_exact=True)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
@pytest.mark.parametrize("kind", KINDS)
def test_pickle_and_joblib_round_trips_predict_identically(kind, how, wine, tmp_path):
    clf, X = _fitted_for_persistence(kind, wine)
    if how == "pickle":
        restored = pickle.loads(pickle.dumps(clf, protocol=pickle.HIGHEST_PROTOCOL))
    else:
        path = tmp_path / "model.joblib"
        joblib.dump(clf, path)
        restored = joblib.load(path)
    _assert_same_model(restored, clf, X)


@pytest.mark.parametrize("kind", KINDS)
def test_skops_round_trip_trusts_only_the_estimator_type(kind, wine, tmp_path):
    sio = pytest.importorskip("skops.io")
    clf, X = _fitted_for_persistence(kind, wine)
    path = tmp_path / "model.skops"
    sio.dump(clf, path)
    untrusted = sio.get_untrusted_types(file=path)
    expected = {
        SoftmaxRegressionClassifier: "skmultinomial._softmax.SoftmaxRegressionClassifier",
        SigmoidMultiLabelClassifier: "skmultinomial._sigmoid.SigmoidMultiLabelClassifier",
    }[type(clf)]
    assert untrusted == [expected]
    restored = sio.load(path, trusted=untrusted)
    _assert_same_model(restored, clf, X)


# ------------------------------------------------------------------------------------
# 3. Determinism


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
        # 12 labels on 50000 x 24 = 1.2M entries of X (> 2**20): labels batched in
        # lockstep, and the batch of 12 logits evaluated on block threads.
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


@pytest.mark.parametrize("case", DETERMINISM_CASES)
def test_two_fits_give_bitwise_identical_coefficients(case, monkeypatch):
    estimator, X, T, path = _determinism_case(case)
    seen = {"threads": [], "batched": []}
    make_evaluator, run = driver._evaluator, lockstep.lbfgs_lockstep

    def spy_evaluator(*args, **kwargs):
        evaluator = make_evaluator(*args, **kwargs)
        seen["threads"].append(evaluator.n_threads)
        return evaluator

    def spy_lockstep(*args, **kwargs):
        seen["batched"].append(kwargs.get("batched"))
        return run(*args, **kwargs)

    monkeypatch.setattr(driver, "_evaluator", spy_evaluator)
    monkeypatch.setattr(lockstep, "lbfgs_lockstep", spy_lockstep)
    first = clone(estimator).fit(X, T)
    second = clone(estimator).fit(X, T)
    # the case takes the code path it is named after
    if path.get("threads") and driver._n_cpus() > 1:
        assert min(seen["threads"]) > 1, seen
    if path.get("batched"):
        assert all(seen["batched"]), seen
    assert first.coef_.dtype == X.dtype
    np.testing.assert_array_equal(second.coef_, first.coef_)
    np.testing.assert_array_equal(second.intercept_, first.intercept_)
    np.testing.assert_array_equal(second.n_iter_, first.n_iter_)
    assert np.all(np.isfinite(first.coef_))


# ------------------------------------------------------------------------------------
# 4. Inputs are never modified; read-only and memory-mapped inputs work


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


# ------------------------------------------------------------------------------------
# 5. Bad input raises an error that names the problem, and changes nothing of the caller's


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


# ------------------------------------------------------------------------------------
# 6. Extreme but valid data: no RuntimeWarning, at most a ConvergenceWarning


def _separable(kind):
    """Three clusters at the corners of a triangle: each class is linearly separable
    from the others (and from each other one), with a margin."""
    rng = np.random.default_rng(0)
    centres = 4 * np.array([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])
    y = np.repeat(np.arange(3), 100)
    X = np.column_stack(
        [centres[y] + 0.5 * rng.standard_normal((300, 2)), rng.standard_normal((300, 2))]
    )
    if kind == "sigmoid-multilabel":
        return SigmoidMultiLabelClassifier, X, np.column_stack([y == 0, y == 1, y != 1]) * 1
    Estimator, T = _problem(kind, X, y)
    return Estimator, X, T


@pytest.mark.parametrize("C", [1e10, np.inf], ids=["C=1e10", "C=inf"])
@pytest.mark.parametrize("kind", KINDS)
def test_separable_data_fit_finite_coefficients_that_classify_every_sample(kind, C):
    Estimator, X, T = _separable(kind)
    clf, caught = _fit_recording_warnings(Estimator(C=C), X, T)
    _assert_only_documented_warnings(caught)
    if np.isinf(C):  # documented: the unpenalised fit of separable data says so
        assert any("perfectly separated" in str(w.message) for w in caught)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    np.testing.assert_array_equal(clf.predict(X), T)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(np.isfinite(clf.predict_log_proba(X)))
        proba = clf.predict_proba(X)
        assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))


@pytest.fixture(scope="module")
def noisy(noisy_multiclass):
    X, y = noisy_multiclass
    return X, np.minimum(y, 2)  # 3 classes, not separable


@pytest.mark.parametrize("C", [1.0, np.inf], ids=["C=1", "C=inf"])
@pytest.mark.parametrize("kind", KINDS)
def test_constant_and_duplicated_columns_fit_without_runtime_warnings(kind, C, noisy):
    X, y = noisy
    Estimator, T = _noisy_targets(kind, X, y)
    n = X.shape[0]
    X_extra = np.column_stack([X, np.full(n, 3.0), X[:, 1], np.zeros(n), X[:, 1]])
    clf, caught = _fit_recording_warnings(Estimator(C=C, **TIGHT), X_extra, T)
    _assert_only_documented_warnings(caught)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    # the constant and all-zero columns carry nothing; the duplicates share their weight
    np.testing.assert_allclose(clf.coef_[:, [3, 5]], 0.0, atol=1e-8)
    np.testing.assert_allclose(clf.coef_[:, 4], clf.coef_[:, 1], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(clf.coef_[:, 6], clf.coef_[:, 1], rtol=1e-8, atol=1e-10)
    if np.isinf(C):  # the same likelihood as the fit without the extra columns
        reference = Estimator(C=C, **TIGHT).fit(X, T)
        np.testing.assert_allclose(
            clf.predict_proba(X_extra), reference.predict_proba(X), rtol=0, atol=1e-7
        )
        np.testing.assert_allclose(
            clf.coef_[:, 1] + clf.coef_[:, 4] + clf.coef_[:, 6],
            reference.coef_[:, 1],
            rtol=0,
            atol=1e-6,  # where each fit stopped, at tol=1e-10
        )


@pytest.mark.parametrize("Estimator", [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier])
def test_a_thousand_classes_of_three_samples_each(Estimator):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(1000), 3)
    X = rng.standard_normal((3000, 3)) + (y[:, None] % 7 - 3) * [1.0, -0.5, 0.2]
    clf, caught = _fit_recording_warnings(Estimator(), X, y)
    _assert_only_documented_warnings(caught)
    assert clf.coef_.shape == (1000, 3)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    np.testing.assert_array_equal(clf.classes_, np.arange(1000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(X)
        log_proba = clf.predict_log_proba(X)
    assert np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-12)


def test_a_label_never_or_always_positive_warns_and_fits_the_others_alone(noisy):
    X, y = noisy
    _, Y = _noisy_targets("sigmoid-multilabel", X, y)
    n = X.shape[0]
    Y_extra = np.column_stack([Y[:, 0], np.zeros(n, int), Y[:, 1], np.ones(n, int), Y[:, 2]])
    clf, caught = _fit_recording_warnings(SigmoidMultiLabelClassifier(**TIGHT), X, Y_extra)
    _assert_only_documented_warnings(caught)
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    assert any("Label 1 is positive in none" in m for m in messages), messages
    assert any("Label 3 is positive in all" in m for m in messages), messages
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    proba = clf.predict_proba(X)
    assert np.all(proba[:, 1] < 0.01) and np.all(proba[:, 3] > 0.99)
    assert np.all(clf.predict(X)[:, 1] == 0) and np.all(clf.predict(X)[:, 3] == 1)
    # the labels are independent problems: the others fit as without the constant ones
    reference = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    np.testing.assert_allclose(clf.coef_[[0, 2, 4]], reference.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("max_iter", [0, 1])
@pytest.mark.parametrize("kind", KINDS)
def test_max_iter_zero_and_one_give_finite_coefficients_and_a_convergence_warning(
    kind, max_iter, wine
):
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    clf, caught = _fit_recording_warnings(Estimator(max_iter=max_iter), X, T)
    _assert_only_documented_warnings(caught)
    assert any(
        issubclass(w.category, ConvergenceWarning)
        and f"max_iter (now {max_iter})" in str(w.message)
        for w in caught
    ), [str(w.message) for w in caught]
    assert np.max(clf.n_iter_) == max_iter
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    assert np.all(np.isfinite(clf.predict_log_proba(X)))


SCALES = {
    "1e-300": 1e-300,
    "1e300": 1e300,
    "mixed": np.array([1e300, 1.0, 1e-300]),
}


@pytest.mark.parametrize("scale", list(SCALES))
@pytest.mark.parametrize("kind", KINDS)
def test_features_at_scales_1e300_and_1e_300_fit_as_unscaled_ones(kind, scale, noisy):
    # Unpenalised, scaling a feature by c scales its coefficient by 1/c and leaves
    # every probability unchanged: the fit on scaled data must predict as the fit on X.
    X, y = noisy
    Estimator, T = _noisy_targets(kind, X, y)
    factor = SCALES[scale]
    X_scaled = X * factor
    reference = Estimator(C=np.inf, **TIGHT).fit(X, T)
    clf, caught = _fit_recording_warnings(Estimator(C=np.inf, **TIGHT), X_scaled, T)
    _assert_only_documented_warnings(caught)
    assert not caught, [str(w.message) for w in caught]  # converges, not separated
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(X_scaled)
        log_proba = clf.predict_log_proba(X_scaled)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(proba, reference.predict_proba(X), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(clf.predict(X_scaled), reference.predict(X))
