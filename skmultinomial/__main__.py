"""``python -m skmultinomial``: both classifiers on scikit-learn's digits, next to scikit-learn.

1. Softmax: ``GridSearchCV`` over ``C`` for
   ``Pipeline(StandardScaler, SoftmaxRegressionClassifier)``, then 5-fold cross-validation
   of the chosen ``C`` next to ``LogisticRegression`` on the same folds: accuracy, log
   loss, fit time.
2. Multi-label: four properties of the digit (even, greater than 4, prime, a multiple of 3)
   as four labels per image, ``SigmoidMultiLabelClassifier`` next to
   ``OneVsRestClassifier(LogisticRegression)`` on the same folds: per-label F1, subset
   accuracy, Hamming loss, mean per-label log loss, fit time.

Nothing is downloaded: the digits ship with scikit-learn.
"""

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, hamming_loss, log_loss
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_validate
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier, __version__

LABELS = {
    "even": lambda d: d % 2 == 0,
    ">4": lambda d: d > 4,
    "prime": lambda d: np.isin(d, [2, 3, 5, 7]),
    "mult. of 3": lambda d: np.isin(d, [3, 6, 9]),
}


def _step(message):
    print(f"  ... {message}", flush=True)


def _table(title, header, rows):
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ]
        print("  ".join(cells))


def _cv(model, X, y, folds, scoring):
    return cross_validate(model, X, y, cv=folds, scoring=scoring, return_estimator=True)


def softmax_part(X, y):
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    ours = make_pipeline(StandardScaler(), SoftmaxRegressionClassifier())
    _step("GridSearchCV over C for the softmax pipeline (5 folds x 5 values)")
    t0 = time.perf_counter()
    search = GridSearchCV(
        ours,
        {"softmaxregressionclassifier__C": [0.01, 0.1, 1.0, 10.0, 100.0]},
        cv=folds,
        scoring="neg_log_loss",
    ).fit(X, y)
    C = search.best_params_["softmaxregressionclassifier__C"]
    _step(f"best C = {C:g} by cross-validated log loss ({time.perf_counter() - t0:.1f} s)")

    scoring = {"accuracy": "accuracy", "log_loss": "neg_log_loss"}
    rows = []
    for name, clf in [
        ("SoftmaxRegressionClassifier", SoftmaxRegressionClassifier(C=C)),
        ("LogisticRegression", LogisticRegression(C=C)),
    ]:
        _step(f"5-fold cross-validation of {name}")
        res = _cv(make_pipeline(StandardScaler(), clf), X, y, folds, scoring)
        n_iter = np.mean([np.max(e[-1].n_iter_) for e in res["estimator"]])
        rows.append(
            [
                name,
                f"{res['test_accuracy'].mean():.4f}",
                f"{-res['test_log_loss'].mean():.4f}",
                f"{n_iter:.0f}",
                f"{res['fit_time'].mean() * 1e3:.1f}",
            ]
        )
    _table(
        f"Softmax on digits ({X.shape[0]} x {X.shape[1]}, 10 classes), C={C:g}, "
        "mean over 5 stratified folds",
        ["model", "accuracy", "log loss", "iterations", "fit time (ms)"],
        rows,
    )


def _multilabel_scores(model, X, Y, folds):
    f1, subset, hamming, ll, fit_time, n_iter = [], [], [], [], [], []
    for train, test in folds.split(X):
        t0 = time.perf_counter()
        model.fit(X[train], Y[train])
        fit_time.append(time.perf_counter() - t0)
        clf = model[-1]
        n_iter.append(
            np.sum(clf.n_iter_)
            if hasattr(clf, "n_iter_")
            else sum(e.n_iter_[0] for e in clf.estimators_)
        )
        pred, proba = model.predict(X[test]), model.predict_proba(X[test])
        f1.append(f1_score(Y[test], pred, average=None))
        subset.append(np.mean(np.all(pred == Y[test], axis=1)))
        hamming.append(hamming_loss(Y[test], pred))
        ll.append(
            np.mean(
                [log_loss(Y[test][:, j], proba[:, j], labels=[0, 1]) for j in range(Y.shape[1])]
            )
        )
    return (
        np.mean(f1, axis=0),
        np.mean(subset),
        np.mean(hamming),
        np.mean(ll),
        np.mean(fit_time),
        np.mean(n_iter),
    )


def multilabel_part(X, digit):
    Y = np.column_stack([rule(digit) for rule in LABELS.values()]).astype(int)
    folds = KFold(n_splits=5, shuffle=True, random_state=0)
    rows = []
    for name, clf in [
        ("SigmoidMultiLabelClassifier", SigmoidMultiLabelClassifier()),
        ("OneVsRest(LogisticRegression)", OneVsRestClassifier(LogisticRegression())),
    ]:
        _step(f"5-fold cross-validation of {name} on {Y.shape[1]} labels")
        f1, subset, hamming, ll, fit_time, n_iter = _multilabel_scores(
            make_pipeline(StandardScaler(), clf), X, Y, folds
        )
        rows.append(
            [
                name,
                *(f"{v:.3f}" for v in f1),
                f"{subset:.3f}",
                f"{hamming:.4f}",
                f"{ll:.4f}",
                f"{n_iter:.0f}",
                f"{fit_time * 1e3:.1f}",
            ]
        )
    _table(
        "Multi-label on digits: " + ", ".join(LABELS) + " (C=1, mean over 5 folds)",
        [
            "model",
            *(f"F1 {k}" for k in LABELS),
            "subset acc",
            "Hamming",
            "log loss",
            "iterations",
            "fit time (ms)",
        ],
        rows,
    )


def main():
    print(f"skmultinomial {__version__}: linear probabilistic classifiers next to scikit-learn")
    X, y = load_digits(return_X_y=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # scikit-learn's LogisticRegression may stop at max_iter here; ours reports its own.
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module=r"sklearn\..*")
        softmax_part(X, y)
        multilabel_part(X, y)
    print(f"\nDone in {time.perf_counter() - t0:.1f} s.")


if __name__ == "__main__":
    main()
