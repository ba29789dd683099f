"""How fast is a fit, against scikit-learn's, at the same objective and tolerance?

Run by hand: ``python benchmarks/bench_speed.py [--quick] [--case NAME] [--repeats N]``.

Each case fits our estimator and its scikit-learn reference side by side in this one
process, as users run them: default BLAS threads, nothing limited here. The fits alternate
(ours, reference, ours, reference, ...), ``--repeats`` rounds (default 5), and the table
gives the median wall time of each, the ratio ours / reference against the target of
issue 3, the L-BFGS iterations of both (for several problems: the sum, and the largest),
and the relative difference of the final objectives, ours minus the reference's::

    C * sum_i NLL_i + 1/2 * ||W||_F^2

recomputed in float64 from each fit's coefficients (see ``_bench.py``), flagged ``!`` when
it exceeds 1e-6 relative (positive: ours is higher). Cases:

    dense64     dense 100k x 100, 10 classes, float64, tol 1e-6      vs LogisticRegression
    dense32     the same data in float32 (both fit float32)           vs LogisticRegression
    digits      digits (standardised), 10 classes, tol 1e-8           vs LogisticRegression
    sparse      CSR 30k x 20k, density 0.5%, 20 classes, tol 1e-6     vs LogisticRegression
    multilabel  dense 20k x 200, 50 labels, tol 1e-6   vs OneVsRestClassifier(LogisticRegression)

``dense32`` also checks that our ``coef_`` is float32 and compares both float32 optima
with the float64 optimum of the same numbers (the dense X is drawn in float32): the lower
of the two ``dense64`` objectives, fitted once here if ``dense64`` is not run. The sparse
case uses tol 1e-6 so that both reach the same objective. ``--quick`` divides the numbers
of rows (and the sparse columns) by 10 for a smoke test. Timings depend on the machine and
its load (printed in the header; another busy process slows multi-threaded BLAS badly):
compare the ratios of one run, not times across runs.
"""

import sys

import _bench
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

C = 1.0
MAX_ITER = 1000
TARGETS = {"dense64": 0.40, "dense32": 0.50, "digits": 0.20, "sparse": 0.67, "multilabel": 0.50}


def _sizes(quick):
    shrink = 10 if quick else 1
    return {
        "dense": (100_000 // shrink, 100, 10),
        "sparse": (30_000 // shrink, 20_000 // shrink, 20, 0.005),
        "multilabel": (20_000 // shrink, 200, 50),
    }


def _softmax_makers(tol):
    return {
        "ours": lambda: SoftmaxRegressionClassifier(C=C, tol=tol, max_iter=MAX_ITER),
        "ref": lambda: LogisticRegression(C=C, tol=tol, max_iter=MAX_ITER),
    }


def _compare(case, description, makers, X, y, tol, args, notes):
    """Time the makers alternately; return (table row, result dict) for one case."""
    res = _bench.time_alternating(makers, X, y, args.repeats)
    ours, ref = res["ours"], res["ref"]
    notes.append(
        f"{case}, each run (s): ours {' '.join(f'{t:.3f}' for t in ours['times'])}; "
        f"ref {' '.join(f'{t:.3f}' for t in ref['times'])}"
    )
    f_ours = _bench.objective(ours["model"], X, y, C)
    f_ref = _bench.objective(ref["model"], X, y, C)
    d_obj = _bench.rel_diff(f_ours, f_ref)
    warned = [name for name in ("ours", "ref") if res[name]["warned"]]
    row = [
        description,
        f"{tol:g}",
        f"{ours['median']:.3f}",
        f"{ref['median']:.3f}",
        f"{ours['median'] / ref['median']:.2f}",
        f"<= {TARGETS[case]:.2f}",
        _bench.iter_summary(ours["model"]),
        _bench.iter_summary(ref["model"]),
        f"{d_obj:+.1e}{_bench.flag(d_obj)}",
        "ConvergenceWarning: " + ", ".join(warned) if warned else "",
    ]
    return row, {"ours": ours, "ref": ref, "f_ours": f_ours, "f_ref": f_ref}


def _dense_data(quick, dtype):
    n, p, k = _sizes(quick)["dense"]
    # Both cases fit the same numbers: X rounded to float32 first, so that the float64
    # optimum is the optimum of the float32 case's problem.
    X, y = _bench.dense_softmax_data(n, p, k, seed=0, dtype=np.float32)
    return X.astype(dtype, copy=False), y, f"dense {n} x {p}, {k} classes, {np.dtype(dtype)}"


# The float64 optimum of the dense data, for the float32 case: {quick: objective}.
_FLOAT64_OPTIMUM = {}


def case_dense64(args, notes):
    X, y, description = _dense_data(args.quick, np.float64)
    row, res = _compare("dense64", description, _softmax_makers(1e-6), X, y, 1e-6, args, notes)
    _FLOAT64_OPTIMUM[args.quick] = min(res["f_ours"], res["f_ref"])
    return row


def case_dense32(args, notes):
    if args.quick not in _FLOAT64_OPTIMUM:
        X, y, _ = _dense_data(args.quick, np.float64)
        f = [
            _bench.objective(_bench.fit_timed(make, X, y)[0], X, y, C)
            for make in _softmax_makers(1e-6).values()
        ]
        _FLOAT64_OPTIMUM[args.quick] = min(f)
    optimum = _FLOAT64_OPTIMUM[args.quick]
    X, y, description = _dense_data(args.quick, np.float32)
    row, res = _compare("dense32", description, _softmax_makers(1e-6), X, y, 1e-6, args, notes)
    for name, label in (("ours", "ours"), ("ref", "LogisticRegression")):
        dtype = res[name]["model"].coef_.dtype
        d_opt = _bench.rel_diff(res[f"f_{name}"], optimum)
        notes.append(
            f"dense32, {label}: coef_ {dtype}"
            + ("" if name == "ref" or dtype == np.float32 else " (expected float32!)")
            + f"; objective - float64 optimum (rel.): {d_opt:+.1e}{_bench.flag(d_opt)}"
        )
    return row


def case_digits(args, notes):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    description = f"digits standardised {X.shape[0]} x {X.shape[1]}, 10 classes"
    return _compare("digits", description, _softmax_makers(1e-8), X, y, 1e-8, args, notes)[0]


def case_sparse(args, notes):
    n, p, k, density = _sizes(args.quick)["sparse"]
    X, y = _bench.sparse_softmax_data(n, p, k, density, seed=0)
    description = f"sparse CSR {n} x {p}, density {density:.1%}, {k} classes"
    return _compare("sparse", description, _softmax_makers(1e-6), X, y, 1e-6, args, notes)[0]


def case_multilabel(args, notes):
    n, p, n_labels = _sizes(args.quick)["multilabel"]
    X, Y = _bench.multilabel_data(n, p, n_labels, seed=0)
    tol = 1e-6
    makers = {
        "ours": lambda: SigmoidMultiLabelClassifier(C=C, tol=tol, max_iter=MAX_ITER),
        "ref": lambda: OneVsRestClassifier(LogisticRegression(C=C, tol=tol, max_iter=MAX_ITER)),
    }
    description = f"multi-label dense {n} x {p}, {n_labels} labels, vs OneVsRest"
    return _compare("multilabel", description, makers, X, Y, tol, args, notes)[0]


CASES = {
    "dense64": case_dense64,
    "dense32": case_dense32,
    "digits": case_digits,
    "sparse": case_sparse,
    "multilabel": case_multilabel,
}


def _warm_up():
    """One tiny untimed fit of each estimator: lazy imports and BLAS start-up hit no timing."""
    X, y = _bench.dense_softmax_data(300, 5, 3, seed=1)
    Y = np.column_stack([y == 0, y == 1]).astype(int)
    SoftmaxRegressionClassifier().fit(X, y)
    LogisticRegression().fit(X, y)
    SigmoidMultiLabelClassifier().fit(X, Y)
    OneVsRestClassifier(LogisticRegression()).fit(X, Y)


def main():
    args = _bench.parse_args(__doc__, CASES, repeats=True)
    _bench.print_header(
        "fit time, ours vs scikit-learn (default threads), "
        f"median of {args.repeats} alternating runs" + (", QUICK sizes" if args.quick else "")
    )
    _warm_up()
    rows, notes = [], []
    for case in args.case:
        rows.append(CASES[case](args, notes))
        print(f"  done: {case}", file=sys.stderr, flush=True)
    print()
    _bench.print_table(
        [
            "case",
            "tol",
            "ours (s)",
            "ref (s)",
            "ours/ref",
            "target",
            "iter ours",
            "iter ref",
            "obj ours-ref (rel)",
            "warnings",
        ],
        rows,
    )
    print(
        f"\nC={C:g}, max_iter={MAX_ITER}. ref = LogisticRegression(solver='lbfgs'), or "
        "OneVsRestClassifier(LogisticRegression) for multi-label; iterations of several "
        "problems are 'sum (max)'. '!' marks an objective difference above "
        f"{_bench.OBJECTIVE_RTOL:g} relative."
    )
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
