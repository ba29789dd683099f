"""Where do our fits stand against the hardware and scikit-learn, apart from wall time?

Run by hand: ``python benchmarks/bench_internals.py [--quick] [--case NAME]``. Three
questions, one table each:

    memory      How much memory beyond X does a fit take? 400k x 50 float32, 20 classes,
                default settings, ours vs LogisticRegression (target: ours <= 0.5x).
                Each fit runs in a fresh subprocess of this script that makes X first:
                once under tracemalloc (NumPy reports its allocations to it; started after
                X exists), once without it for the peak RSS (VmHWM, reset through
                /proc/self/clear_refs after X exists, else ru_maxrss) minus the RSS then.
    per-eval    How close is one loss+gradient evaluation to its two matrix products?
                Dense 100k x 100, 10 classes, float64 and float32: best-of time of
                ``skmultinomial._loss.chunk_loss_grad`` on the whole X, over the "floor"
                ``X @ W.T`` plus ``G.T @ X`` (G of shape (n, K)), at the default BLAS threads
                and at 1 thread (target: <= 1.2x). The "row source" column times one
                evaluation as the fit runs it: ``skmultinomial._rows.InMemoryRows``
                (all row blocks, on the fit's threads), with BLAS on one thread as
                during ``fit``.
    iterations  How many L-BFGS iterations does tol=1e-8 take on unscaled real data?
                breast cancer, wine, raw digits, iris (shipped with scikit-learn), C=1,
                max_iter=10000 for both; geometric mean of ours / LogisticRegression
                (target: <= 0.5). Also: does either warn with default settings
                (tol=1e-4, max_iter=100)?

Nothing here limits threads except the 1-thread rows of ``per-eval``. ``--quick`` divides
the numbers of rows by 10 and ``max_iter`` of ``iterations`` by 50, for a smoke test.
"""

import contextlib
import functools
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import _bench
import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skmultinomial import SoftmaxRegressionClassifier

# --- memory ----------------------------------------------------------------------------------

_ESTIMATORS = {"ours": SoftmaxRegressionClassifier, "ref": LogisticRegression}


def _status_kib(field):
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status, in KiB (None where unavailable)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def _memory_worker(which, mode, n, p, k):
    """Fit one estimator on float32 data made here; print one JSON line of measurements."""
    make = _ESTIMATORS[which]
    # A small fit first, so that lazy imports and BLAS buffers are part of the baseline.
    make().fit(*_bench.dense_softmax_data(2_000, p, k, seed=1, dtype=np.float32))
    X, y = _bench.dense_softmax_data(n, p, k, seed=0, dtype=np.float32)
    out = {"x_mib": X.nbytes / 2**20}
    if mode == "tracemalloc":
        tracemalloc.start()
        clf, seconds, warned = _bench.fit_timed(make, X, y)
        out["extra_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    else:
        base = _status_kib("VmRSS")
        out["hwm_reset"] = _reset_peak_rss()
        clf, seconds, warned = _bench.fit_timed(make, X, y)
        # ru_maxrss is in KiB on Linux; without a reset it includes making X.
        peak = _status_kib("VmHWM") if out["hwm_reset"] else None
        peak = peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out["extra_mib"] = (peak - base) / 1024 if base is not None else float("nan")
    out.update(
        seconds=seconds,
        n_iter=int(_bench.n_iter(clf).max()),
        warned=warned,
        dtype=str(clf.coef_.dtype),
    )
    print(json.dumps(out))


def _run_worker(which, mode, sizes):
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-worker", which, mode]
    result = subprocess.run([*cmd, *map(str, sizes)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"memory worker {which}/{mode} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def case_memory(args):
    sizes = (40_000 if args.quick else 400_000, 50, 20)
    res = {
        (which, mode): _run_worker(which, mode, sizes)
        for which in _ESTIMATORS
        for mode in ("tracemalloc", "rss")
    }
    rows = []
    for which, label in (("ours", "ours"), ("ref", "LogisticRegression")):
        rss, traced = res[which, "rss"], res[which, "tracemalloc"]
        rows.append(
            [
                label,
                f"{traced['extra_mib']:.1f}",
                f"{rss['extra_mib']:.1f}",
                rss["dtype"],
                rss["n_iter"],
                f"{rss['seconds']:.2f}",
                "yes" if rss["warned"] else "no",
            ]
        )
    ratios = [
        res["ours", mode]["extra_mib"] / res["ref", mode]["extra_mib"]
        for mode in ("tracemalloc", "rss")
    ]
    rows.append(
        ["ours / LogisticRegression", f"{ratios[0]:.2f}", f"{ratios[1]:.2f}", "", "", "", ""]
    )
    n, p, k = sizes
    print(
        f"-- memory beyond X during fit: dense {n} x {p} float32 "
        f"(X = {res['ours', 'rss']['x_mib']:.1f} MiB), {k} classes, default tol and "
        "max_iter; target ours <= 0.5x --"
    )
    _bench.print_table(
        [
            "fit",
            "tracemalloc peak (MiB)",
            "peak RSS - RSS with X (MiB)",
            "coef_",
            "iter",
            "fit (s)",
            "ConvergenceWarning",
        ],
        rows,
    )
    if not all(res[w, "rss"]["hwm_reset"] for w in _ESTIMATORS):
        print("(VmHWM could not be reset: the RSS peak is ru_maxrss since the start)")


# --- per-evaluation time -----------------------------------------------------------------------


@contextlib.contextmanager
def _fit_evaluation(X, y, W, b, s):
    """Yield ``(label, evaluate)``: one evaluation as the fit runs it.

    ``_rows.InMemoryRows`` (``chunk_loss_grad`` over all blocks and threads, no
    penalty) inside the fit's own BLAS limit (one BLAS thread; the fit's threads do the
    parallel work), as during ``fit``.
    """
    from skmultinomial._loss import SOFTMAX
    from skmultinomial._rows import InMemoryRows
    from skmultinomial._tuning import blas_single_threaded

    with blas_single_threaded(), InMemoryRows(X, y, s, W.shape[0]) as rows:
        yield (
            "row-source evaluation: skmultinomial._rows.InMemoryRows (all blocks and "
            f"{rows.n_threads} threads, BLAS on 1 thread as in fit, no penalty)",
            functools.partial(rows.loss_grad, W, b, None, SOFTMAX),
        )


def case_per_eval(args):
    from skmultinomial._loss import SOFTMAX, chunk_loss_grad

    n, p, k = (10_000 if args.quick else 100_000), 100, 10
    repeats = 5 if args.quick else 10
    rng = np.random.default_rng(0)
    rows, messages = [], []
    for dtype in (np.float64, np.float32):
        X, y = _bench.dense_softmax_data(n, p, k, seed=0, dtype=dtype)
        W = (0.1 * rng.standard_normal((k, p))).astype(dtype)
        b = np.zeros(k, dtype=dtype)
        s = np.ones(n, dtype=dtype)
        G = rng.random((n, k)).astype(dtype)

        def floor(X=X, W=W, G=G):
            return X @ W.T, G.T @ X

        def ours(X=X, W=W, b=b, y=y, s=s):
            return chunk_loss_grad(W, b, X, y, s, SOFTMAX)

        for threads in ("default", 1):
            limit = contextlib.nullcontext() if threads == "default" else threadpool_limits(1)
            with limit:
                t_floor = _bench.best_time(floor, repeats)
                t_ours = _bench.best_time(ours, repeats)
            row = [
                f"{np.dtype(dtype)}",
                threads,
                f"{1e3 * t_floor:.2f}",
                f"{1e3 * t_ours:.2f}",
                f"{t_ours / t_floor:.2f}",
            ]
            in_fit = "-"
            if threads == "default":
                with _fit_evaluation(X, y, W, b, s) as (label, evaluate):
                    messages.append(label)
                    t_fit = _bench.best_time(evaluate, repeats)
                    in_fit = f"{1e3 * t_fit:.2f} ({t_fit / t_floor:.2f}x)"
            rows.append([*row, in_fit])
    print(
        f"-- one loss+gradient evaluation, dense {n} x {p}, {k} classes, best of {repeats}; "
        "target <= 1.2x the two products --"
    )
    _bench.print_table(
        [
            "dtype",
            "BLAS threads",
            "X@W.T + G.T@X (ms)",
            "chunk_loss_grad, all X (ms)",
            "ratio",
            "row source (ms, x floor)",
        ],
        rows,
    )
    for message in dict.fromkeys(messages):
        print(message)


# --- iterations on unscaled real data ----------------------------------------------------------

DATASETS = {
    "breast cancer": load_breast_cancer,
    "wine": load_wine,
    "digits (raw)": load_digits,
    "iris": load_iris,
}


def case_iterations(args):
    max_iter = 200 if args.quick else 10_000
    tight = {"C": 1.0, "tol": 1e-8, "max_iter": max_iter}
    rows, ratios = [], []
    for name, loader in DATASETS.items():
        X, y = loader(return_X_y=True)
        fits = {
            label: _bench.fit_timed(lambda est=est: est(**tight), X, y)
            for label, est in _ESTIMATORS.items()
        }
        it = {label: int(_bench.n_iter(fit[0]).max()) for label, fit in fits.items()}
        ratios.append(it["ours"] / it["ref"])
        # A fit stopped at max_iter would have needed more: the ratio is then a bound.
        capped = {label: it[label] >= max_iter for label in it}
        bound = {(False, True): "<= ", (True, False): ">= ", (True, True): "? "}
        ratio = bound.get((capped["ours"], capped["ref"]), "") + f"{ratios[-1]:.2f}"
        d_obj = _bench.rel_diff(
            _bench.objective(fits["ours"][0], X, y, 1.0),
            _bench.objective(fits["ref"][0], X, y, 1.0),
        )
        default_warns = {
            label: "warns" if _bench.fit_timed(est, X, y)[2] else "ok"
            for label, est in _ESTIMATORS.items()
        }
        rows.append(
            [
                name,
                f"{X.shape[0]} x {X.shape[1]}, {np.unique(y).size}",
                it["ours"],
                it["ref"],
                ratio,
                "no" if fits["ours"][2] else "yes",
                "no" if fits["ref"][2] else "yes",
                f"{d_obj:+.1e}{_bench.flag(d_obj)}",
                f"{fits['ours'][1]:.2f} / {fits['ref'][1]:.2f}",
                default_warns["ours"],
                default_warns["ref"],
            ]
        )
        print(f"  done: {name}", file=sys.stderr, flush=True)
    print(
        f"-- L-BFGS iterations to tol=1e-8 on unscaled data, C=1, max_iter={max_iter}; "
        "target geo-mean ours/LR <= 0.5 --"
    )
    _bench.print_table(
        [
            "data",
            "n x p, classes",
            "iter ours",
            "iter LR",
            "ours/LR",
            "conv. ours",
            "conv. LR",
            "obj ours-LR (rel)",
            "fit s ours / LR",
            "default: ours",
            "default: LR",
        ],
        rows,
    )
    print(f"geometric mean of ours/LR iterations: {_bench.geometric_mean(ratios):.2f}")
    print(
        "conv. = no ConvergenceWarning; a fit stopped at max_iter counts max_iter, and its "
        "ratio is marked as a bound ('<=' when LR stopped there, '>=' when ours did).\n"
        "default = each estimator's defaults (ours tol=1e-5, max_iter=1000; LogisticRegression "
        "tol=1e-4, max_iter=100): 'warns' when a ConvergenceWarning is raised."
    )


CASES = {"memory": case_memory, "per-eval": case_per_eval, "iterations": case_iterations}


def main():
    if sys.argv[1:2] == ["--memory-worker"]:
        which, mode, *sizes = sys.argv[2:]
        _memory_worker(which, mode, *map(int, sizes))
        return
    args = _bench.parse_args(__doc__, CASES)
    _bench.print_header(
        "memory, per-evaluation time and iterations, ours vs scikit-learn"
        + (", QUICK sizes" if args.quick else "")
    )
    for case in args.case:
        start = time.perf_counter()
        CASES[case](args)
        print(f"({case}: {time.perf_counter() - start:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
