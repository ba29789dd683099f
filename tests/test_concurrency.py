"""Concurrency: predictions and fits in threads and processes, and the BLAS thread count."""

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV, KFold
from threadpoolctl import threadpool_info, threadpool_limits

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier, _tuning
from skmultinomial.metrics import binary_cross_entropy_scorer

from kinds import (
    KINDS,
    METHODS,
    _problem,
)


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
    # backend does): the same coefficients as one after the other. One data set is
    # fitted on block threads of its own (and, multi-label, with its labels batched).
    X, y = wine
    rng = np.random.default_rng(0)
    X_big = rng.standard_normal((20_000, 15))
    y_big = np.argmax(X_big[:, :3] + rng.standard_normal((20_000, 3)), axis=1)
    Estimator, T = _problem(kind, X, y)
    _, T_big = _problem(kind, X_big, y_big)
    jobs = [(C, X, T) for C in (0.1, 1.0, 10.0)] + [(1.0, X_big, T_big)]
    big_path = {"threaded_work": 5 * 10**5, "batch_work": 10**5, "max_threads": 2}
    with _tuning.override(**big_path, block_elements=3 * 2000):
        sequential = [Estimator(C=C).fit(A, B) for C, A, B in jobs]
        with ThreadPoolExecutor(4) as pool, _tuning.trace() as records:
            threaded = list(pool.map(lambda j: Estimator(C=j[0]).fit(j[1], j[2]), jobs))
    threads = sorted(facts["n_threads"] for kind_, facts in records if kind_ == "rows")
    assert threads == [1, 1, 1, 2], threads  # the big fit ran on its own block threads
    if kind == "sigmoid-multilabel":
        assert sum(facts["batched"] for kind_, facts in records if kind_ == "solve") == 1
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
from skmultinomial._solver import LBFGSSolver

Estimator = getattr(skmultinomial, sys.argv[1])
X, y = load_wine(return_X_y=True)

def blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

first_inside, first_done = threading.Event(), threading.Event()
both_inside = threading.Barrier(2, timeout=60)
setup, run = LBFGSSolver.setup, LBFGSSolver.run
inside, errors = {}, []

def gated_setup(self, *args):  # the phase before a fit limits BLAS
    if threading.current_thread().name == "second":
        first_inside.wait(60)  # the second fit starts while the first one runs
    return setup(self, *args)

def gated_run(self, *args):  # the phase inside each fit's BLAS limit
    name = threading.current_thread().name
    inside[name] = blas_threads()
    if name == "first":
        first_inside.set()
    both_inside.wait()
    if name == "second":  # ... and ends after it
        first_done.wait(60)
    return run(self, *args)

LBFGSSolver.setup, LBFGSSolver.run = gated_setup, gated_run

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
