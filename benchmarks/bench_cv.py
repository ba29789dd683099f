"""Choosing C by cross-validation: the same choice as scikit-learn's, how accurate, how fast?

Run by hand: ``python benchmarks/bench_cv.py [--quick] [--case NAME] [--repeats N]``.

Each case fits our cross-validated estimator and scikit-learn's on the same folds and
the same ``Cs = np.logspace(-4, 4, 10)``, scored by ``"neg_log_loss"``, side by side in
this one process. Cases:

    dense       dense 20k x 60, 6 classes       SoftmaxRegressionCV vs LogisticRegressionCV
    digits      digits (standardised)           SoftmaxRegressionCV vs LogisticRegressionCV
    multilabel  dense 20k x 60, 8 labels        SigmoidMultiLabelCV vs OneVsRestClassifier(
                                                LogisticRegressionCV)

Agreement. The exact scores are those of scikit-learn's path at ``tol=1e-10``
(``max_iter=10_000``, threads limited to one, which changes no number); each run's
error is its largest distance from them over the folds' mean scores per C (and per
label), and the table says whether it chose the same C (for every label).

Time. Alternating runs (ours, then each reference, ``--repeats`` rounds, default 3),
medians. Ours as users run it: default parameters, default threads (and with the folds
on two threads, ``n_jobs=2``, against scikit-learn tuned). scikit-learn's (1) as users
run it: default threads and parameters (``tol=1e-4``, ``max_iter=100``), whatever its
accuracy; (2) at equal accuracy: the loosest of ``tol = 1e-4, 1e-6, 1e-8, 1e-10``
(``max_iter=10_000``) whose error is at most ours, default threads; (3) the same tuned:
BLAS limited to one thread (threadpoolctl) and the folds in two processes
(``n_jobs=2``). ``--quick`` divides the rows of the dense cases by 10. Timings depend on
the machine and its load (printed in the header): compare the ratios of one run.
"""

import sys
import warnings

import _bench
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from skmultinomial import SigmoidMultiLabelCV, SoftmaxRegressionCV

CS = np.logspace(-4, 4, 10)
TOLS = (1e-4, 1e-6, 1e-8, 1e-10)
TARGETS = {"dense": 1 / 3, "digits": 1 / 3, "multilabel": 1 / 5}


def _lrcv(folds, multilabel, **params):
    lrcv = LogisticRegressionCV(
        Cs=CS, cv=folds, scoring="neg_log_loss", l1_ratios=(0,), use_legacy_attributes=False
    )
    lrcv.set_params(**params)
    return OneVsRestClassifier(lrcv) if multilabel else lrcv


def _mean_scores(model):
    """Mean score over folds per C: shape (n_labels, n_Cs), one row for a softmax."""
    if isinstance(model, _bench.OneBlasThread):
        model = model.estimator
    if hasattr(model, "estimators_"):  # one-vs-rest
        return np.array(
            [e.scores_.reshape(e.scores_.shape[0], -1).mean(axis=0) for e in model.estimators_]
        )
    if isinstance(model, LogisticRegressionCV):
        return model.scores_.reshape(model.scores_.shape[0], -1).mean(axis=0)[None]
    scores = model.scores_
    return scores.mean(axis=-2) if scores.ndim == 3 else scores.mean(axis=0)[None]


def _chosen(model):
    if isinstance(model, _bench.OneBlasThread):
        model = model.estimator
    if hasattr(model, "estimators_"):
        return np.array([float(np.ravel(e.C_)[0]) for e in model.estimators_])
    return np.atleast_1d(np.asarray(model.C_, dtype=np.float64)).ravel()


def _fit_quietly(model, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X, y)
    return model, any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _case(name, description, X, y, folds, multilabel, args, notes):
    """Agreement rows and the time row of one case."""
    ours_class = SigmoidMultiLabelCV if multilabel else SoftmaxRegressionCV
    runs = {
        "ours (default tol=1e-4)": _fit_quietly(
            ours_class(Cs=CS, cv=folds, scoring="neg_log_loss"), X, y
        ),
        "scikit-learn as users run it": _fit_quietly(_lrcv(folds, multilabel), X, y),
    }
    for tol in TOLS:  # the last one, 1e-10, is the exact reference
        reference = _bench.OneBlasThread(_lrcv(folds, multilabel, tol=tol, max_iter=10_000))
        runs[f"scikit-learn tol={tol:g}"] = _fit_quietly(reference, X, y)
    tight = ours_class(Cs=CS, cv=folds, scoring="neg_log_loss", tol=1e-10, max_iter=10_000)
    runs["ours, tol=1e-10"] = _fit_quietly(tight, X, y)
    exact = runs[f"scikit-learn tol={TOLS[-1]:g}"][0]
    errors = {
        run: float(np.max(np.abs(_mean_scores(model) - _mean_scores(exact))))
        for run, (model, _) in runs.items()
    }
    rows = [
        [
            name,
            run,
            f"{errors[run]:.1e}",
            "yes" if np.array_equal(_chosen(model), _chosen(exact)) else "NO",
            "ConvergenceWarning" if warned else "",
        ]
        for run, (model, warned) in runs.items()
    ]
    ours_error = errors["ours (default tol=1e-4)"]
    equal = next(tol for tol in TOLS if errors[f"scikit-learn tol={tol:g}"] <= ours_error)
    return rows, _time_row(name, description, X, y, folds, multilabel, equal, args, notes)


def _time_row(name, description, X, y, folds, multilabel, equal, args, notes):
    """Alternating runs: ours, and scikit-learn's as users run it, at equal accuracy, tuned."""
    ours_class = SigmoidMultiLabelCV if multilabel else SoftmaxRegressionCV
    makers = {
        "ours": lambda: ours_class(Cs=CS, cv=folds, scoring="neg_log_loss"),
        "ours, n_jobs=2": lambda: ours_class(Cs=CS, cv=folds, scoring="neg_log_loss", n_jobs=2),
        "users": lambda: _lrcv(folds, multilabel),
        "equal": lambda: _lrcv(folds, multilabel, tol=equal, max_iter=10_000),
        "tuned": lambda: _bench.OneBlasThread(
            _lrcv(folds, multilabel, tol=equal, max_iter=10_000, n_jobs=2)
        ),
    }
    res = _bench.time_alternating(makers, X, y, args.repeats)
    for key, result in res.items():
        times = " ".join(f"{t:.2f}" for t in result["times"])
        notes.append(f"{name}, {key}, each run (s): {times}")
    t = {key: result["median"] for key, result in res.items()}
    return [
        description,
        f"{t['ours']:.2f}",
        f"{t['users']:.2f} ({t['ours'] / t['users']:.2f})",
        f"{equal:g}",
        f"{t['equal']:.2f} ({t['ours'] / t['equal']:.2f})",
        f"{t['tuned']:.2f} ({t['ours'] / t['tuned']:.2f})",
        f"{t['ours, n_jobs=2']:.2f} ({t['ours, n_jobs=2'] / t['tuned']:.2f})",
        f"<= {TARGETS[name]:.2f}",
    ]


def case_dense(args, notes):
    n = 20_000 // (10 if args.quick else 1)
    X, y = _bench.dense_softmax_data(n, 60, 6, seed=0)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    return _case("dense", f"dense {n} x 60, 6 classes", X, y, folds, False, args, notes)


def case_digits(args, notes):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    return _case("digits", "digits, 10 classes", X, y, folds, False, args, notes)


def case_multilabel(args, notes):
    n = 20_000 // (10 if args.quick else 1)
    X, Y = _bench.multilabel_data(n, 60, 8, seed=0)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    return _case("multilabel", f"multi-label {n} x 60, 8 labels", X, Y, folds, True, args, notes)


CASES = {"dense": case_dense, "digits": case_digits, "multilabel": case_multilabel}


def main():
    args = _bench.parse_args(__doc__, CASES, repeats=True, default_repeats=3)
    _bench.print_header(
        "choosing C by cross-validation, ours vs scikit-learn, "
        f"median of {args.repeats} alternating runs" + (", QUICK sizes" if args.quick else "")
    )
    agreement, times, notes = [], [], []
    for case in args.case:
        rows, row = CASES[case](args, notes)
        agreement += rows
        times.append(row)
        print(f"  done: {case}", file=sys.stderr, flush=True)
    print("Agreement: largest |mean score per C - exact| over Cs (and labels), same C_ as exact")
    _bench.print_table(["case", "run", "error", "same C_", "warnings"], agreement)
    print("\nTime (s), ours / scikit-learn's in brackets")
    _bench.print_table(
        [
            "case",
            "ours",
            "as users run it",
            "equal-accuracy tol",
            "at equal accuracy",
            "tuned, equal accuracy",
            "ours n_jobs=2 (/ tuned)",
            "target",
        ],
        times,
    )
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
