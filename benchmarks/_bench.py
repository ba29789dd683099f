"""Shared helpers of the benchmark scripts: command line, header, data, objective, timing, tables.

Not a benchmark itself. The scripts import it as ``_bench`` (they are run as
``python benchmarks/<script>.py``, which puts this folder first on ``sys.path``).

The objective is recomputed here from the fitted coefficients with NumPy in float64, never
from the package's internals, so that it checks both packages the same way::

    C * sum_i s_i * NLL_i  +  1/2 * ||W||_F^2        (intercepts not penalised)

with the softmax NLL ``logsumexp(z_i) - z_{i, y_i}`` for three or more classes and the
sigmoid NLL ``log(1 + exp(z)) - t z`` summed over labels (or of ``classes_[1]`` for two
classes), ``z = X @ coef_.T + intercept_``.
"""

import argparse
import datetime
import gc
import os
import platform
import statistics
import subprocess
import time
import warnings

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

import skmultinomial

# Relative objective difference above which a row is flagged.
OBJECTIVE_RTOL = 1e-6


def parse_args(description, cases, repeats=False, default_repeats=5):
    """``--quick``, ``--case NAME`` (repeatable, one of ``cases``), ``--repeats N`` if asked
    (default ``default_repeats``, or 3 with ``--quick``)."""
    parser = argparse.ArgumentParser(
        description=description.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="sizes shrunk about 10x: a smoke test")
    parser.add_argument(
        "--case",
        action="append",
        choices=list(cases),
        help="run only this case (repeat the option for several); default: all",
    )
    if repeats:
        parser.add_argument(
            "--repeats",
            type=int,
            help=f"alternating runs per estimator (default {default_repeats}, or 3 with --quick)",
        )
    args = parser.parse_args()
    if repeats:
        args.repeats = args.repeats or (3 if args.quick else default_repeats)
        if args.repeats < 1:
            parser.error("--repeats must be at least 1")
    args.case = args.case or list(cases)
    return args


def _git_revision():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def print_header(title):
    """Date, machine, versions and BLAS thread pools, above a table."""
    blas = ", ".join(
        f"{info['internal_api']} {info['version']} ({info['prefix']}, "
        f"{info['num_threads']} threads)"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    )
    print(f"== {title} ==")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs")
    print(
        f"versions: numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, skmultinomial {skmultinomial.__version__} "
        f"(git {_git_revision()}), Python {platform.python_version()}"
    )
    print(f"BLAS: {blas or 'none found'}")
    if hasattr(os, "getloadavg"):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average before the run (1, 5, 15 min): {load}")
    print()


def print_table(columns, rows):
    """Left-aligned first column, right-aligned others, widths from the content."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(col), *(len(row[j]) for row in cells)) for j, col in enumerate(columns)]

    def line(row):
        first = f"{row[0]:<{widths[0]}}"
        return "  ".join([first, *(f"{c:>{w}}" for c, w in zip(row[1:], widths[1:]))])

    print(line(columns))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))


# --- data ----------------------------------------------------------------------------------


def softmax_labels(X, W, rng, block=50_000):
    """Class indices sampled from ``softmax(X @ W.T)``, by row blocks (small temporaries)."""
    y = np.empty(X.shape[0], dtype=np.int64)
    for lo in range(0, X.shape[0], block):
        Z = np.asarray(X[lo : lo + block] @ W.T, dtype=np.float64)
        P = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
        u = rng.random((Z.shape[0], 1))
        # Inverse-CDF sampling; the clip guards against a last cumsum just below u.
        y[lo : lo + block] = np.minimum((P.cumsum(axis=1) < u).sum(axis=1), W.shape[0] - 1)
    return y


def dense_softmax_data(n_samples, n_features, n_classes, seed=0, dtype=np.float64):
    """X ~ N(0, 1) and labels drawn from a random softmax model (logits of std ~2)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=dtype)
    W = rng.standard_normal((n_classes, n_features)) * (2.0 / np.sqrt(n_features))
    return X, softmax_labels(X, W, rng)


def sparse_softmax_data(n_samples, n_features, n_classes, density, seed=0):
    """CSR X with N(0, 1) non-zeros, labels from a random softmax model (logits of std ~2)."""
    rng = np.random.default_rng(seed)
    X = sp.random(
        n_samples,
        n_features,
        density=density,
        format="csr",
        rng=rng,
        data_rvs=rng.standard_normal,
    )
    nnz_per_row = density * n_features
    W = rng.standard_normal((n_classes, n_features)) * (2.0 / np.sqrt(nnz_per_row))
    return X, softmax_labels(X, W, rng)


def multilabel_data(n_samples, n_features, n_labels, seed=0):
    """X ~ N(0, 1) and a 0/1 indicator Y from independent sigmoids (positive rates ~10-50%)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    W = rng.standard_normal((n_labels, n_features)) * (2.0 / np.sqrt(n_features))
    b = rng.uniform(-2.0, 0.0, size=n_labels)
    Z = X @ W.T + b
    Y = (rng.random(Z.shape) < np.exp(-np.logaddexp(0.0, -Z))).astype(np.int64)
    return X, Y


# --- the objective, from the fitted coefficients ---------------------------------------------


def coefficients(clf):
    """``(coef, intercept)`` as float64, of our estimators, LogisticRegression or OneVsRest."""
    if hasattr(clf, "estimators_"):
        coef = np.vstack([e.coef_ for e in clf.estimators_])
        intercept = np.concatenate([e.intercept_ for e in clf.estimators_])
    else:
        coef, intercept = clf.coef_, clf.intercept_
    return np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64)


def objective(clf, X, y, C):
    """``C * sum_i NLL_i + ||W||^2 / 2`` in float64 (unit sample weights).

    ``y`` 1-D: softmax over ``clf.classes_`` (the single logit of ``classes_[1]`` for two
    classes); ``y`` 2-D: a 0/1 indicator matrix, one sigmoid per column.
    """
    coef, intercept = coefficients(clf)
    Xd = X.astype(np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    Z = np.asarray(Xd @ coef.T) + intercept
    if y.ndim == 2 or coef.shape[0] == 1:
        T = y if y.ndim == 2 else (y == clf.classes_[1])[:, None]
        nll = np.sum(np.logaddexp(0.0, Z) - T * Z)
    else:
        codes = np.searchsorted(clf.classes_, y)
        nll = np.sum(logsumexp(Z, axis=1) - Z[np.arange(y.size), codes])
    return C * nll + 0.5 * np.sum(coef**2)


def rel_diff(value, reference):
    """``(value - reference) / |reference|``."""
    return (value - reference) / abs(reference)


def flag(rel):
    """``"!"`` when a relative objective difference exceeds :data:`OBJECTIVE_RTOL`."""
    return "!" if abs(rel) > OBJECTIVE_RTOL else ""


# --- fitting and timing ----------------------------------------------------------------------


def n_iter(clf):
    """L-BFGS iterations per fitted problem, as a 1-D int array (one entry per label/problem)."""
    if hasattr(clf, "estimators_"):
        return np.concatenate([np.ravel(e.n_iter_) for e in clf.estimators_]).astype(int)
    return np.ravel(clf.n_iter_).astype(int)


def iter_summary(clf):
    """``"21"`` for one problem, ``"512 (max 13)"`` (sum over problems, largest) for several."""
    it = n_iter(clf)
    return str(it[0]) if it.size == 1 else f"{it.sum()} (max {it.max()})"


class OneBlasThread:
    """An estimator fitted with BLAS limited to one thread (a peer as a tuned user runs
    it on a small machine); its fitted attributes are the estimator's."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y):
        with threadpool_limits(1):
            self.estimator.fit(X, y)
        return self

    def __getattr__(self, name):
        return getattr(self.__dict__["estimator"], name)


def fit_timed(make, X, y):
    """Fit a fresh ``make()`` on ``(X, y)``: ``(fitted, seconds, ConvergenceWarning raised)``."""
    clf = make()
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return clf, seconds, warned


def time_alternating(makers, X, y, repeats):
    """Fit each of ``makers`` (name -> factory) in turn, ``repeats`` rounds: A, B, A, B, ...

    Returns name -> ``{"times": [...], "median": s, "model": last fit, "warned": bool}``.
    """
    results = {name: {"times": [], "warned": False} for name in makers}
    for _ in range(repeats):
        for name, make in makers.items():
            clf, seconds, warned = fit_timed(make, X, y)
            res = results[name]
            res["times"].append(seconds)
            res["model"] = clf
            res["warned"] |= warned
    for res in results.values():
        res["median"] = statistics.median(res["times"])
    return results


def best_time(func, repeats):
    """Smallest wall time of ``repeats`` calls of ``func()``, in seconds."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def geometric_mean(values):
    return float(np.exp(np.mean(np.log(values))))
