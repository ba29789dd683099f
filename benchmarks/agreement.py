"""How far are our fits from the references? Largest differences, printed as a table.

Run by hand: ``python benchmarks/agreement.py``. Every row fits the same objective with
both packages at tight tolerance (``tol=1e-10``) and prints the largest absolute
difference of the coefficients (intercepts included) and of ``predict_proba``, and the
relative difference of the objective, ours minus the reference's (negative when ours is
lower; for statsmodels, of the negative log-likelihood). When PyTorch is installed, it
also evaluates PyTorch's CrossEntropyLoss and BCEWithLogitsLoss (class weights, label
smoothing, soft targets, pos_weight) at our fitted coefficients: the gradient of
``C * loss + ||W||^2 / 2`` there must vanish if both define the same objective.
"""

import warnings

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_wine,
    make_multilabel_classification,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

TIGHT = {"tol": 1e-10, "max_iter": 10_000}


def _params(clf):
    if hasattr(clf, "estimators_"):
        return np.hstack(
            [
                np.vstack([e.coef_ for e in clf.estimators_]),
                np.concatenate([e.intercept_ for e in clf.estimators_])[:, None],
            ]
        )
    return np.hstack([clf.coef_, clf.intercept_[:, None]])


def _objective(clf, X, y, C, sample_weight=None, class_weight=None):
    """C * sum_i s_i * NLL_i + ||W||^2 / 2 from scikit-learn's log_loss (per label summed)."""
    s = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    if class_weight is not None:
        s = s * compute_sample_weight(class_weight, y)
    proba = clf.predict_proba(X)
    coef = _params(clf)[:, :-1]
    if y.ndim == 2:
        nll = sum(log_loss(y[:, j], proba[:, j], normalize=False) for j in range(y.shape[1]))
    else:
        nll = log_loss(y, proba, sample_weight=s, normalize=False)
    return C * nll + 0.5 * np.sum(coef**2)


def _row(name, ours, ref, X, y, C, **kw):
    f_ours, f_ref = _objective(ours, X, y, C, **kw), _objective(ref, X, y, C, **kw)
    return (
        name,
        np.max(np.abs(_params(ours) - _params(ref))),
        np.max(np.abs(ours.predict_proba(X) - ref.predict_proba(X))),
        (f_ours - f_ref) / abs(f_ref),
    )


def sklearn_rows():
    rows = []
    rng = np.random.default_rng(0)
    for data_name, loader in [
        ("wine", load_wine),
        ("breast cancer", load_breast_cancer),
        ("digits", load_digits),
    ]:
        X, y = loader(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        w = rng.uniform(0.2, 3.0, size=y.size)
        for C in (0.1, 1.0, 10.0):
            for label, kw, fit_kw in [
                ("", {}, {}),
                (", sample_weight + balanced", {"class_weight": "balanced"}, {"sample_weight": w}),
            ]:
                ours = SoftmaxRegressionClassifier(C=C, **kw, **TIGHT).fit(X, y, **fit_kw)
                ref = LogisticRegression(C=C, **kw, **TIGHT).fit(X, y, **fit_kw)
                name = f"softmax vs LogisticRegression, {data_name}, C={C:g}{label}"
                # "balanced" weighs by weighted counts: pass the weights it used.
                s = fit_kw.get("sample_weight")
                cw = (
                    None
                    if not kw
                    else dict(
                        zip(
                            ours.classes_,
                            s.sum() / (len(ours.classes_) * np.bincount(y, weights=s)),
                        )
                    )
                )
                rows.append(_row(name, ours, ref, X, y, C, sample_weight=s, class_weight=cw))
    X, Y = make_multilabel_classification(n_samples=500, n_classes=6, random_state=0)
    X = StandardScaler().fit_transform(X)
    for C in (0.1, 1.0, 10.0):
        ours = SigmoidMultiLabelClassifier(C=C, **TIGHT).fit(X, Y)
        ref = OneVsRestClassifier(LogisticRegression(C=C, **TIGHT)).fit(X, Y)
        rows.append(
            _row(f"sigmoid vs OneVsRest(LogisticRegression), 6 labels, C={C:g}", ours, ref, X, Y, C)
        )
    return rows


def statsmodels_rows():
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4))
    W = rng.normal(size=(4, 4))
    Z = X @ W.T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) < rng.random((2000, 1))).sum(axis=1)
    ours = SoftmaxRegressionClassifier(C=np.inf, **TIGHT).fit(X, y)
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
    params = np.vstack([ours.intercept_, ours.coef_.T])
    llf = ours.predict_log_proba(X)[np.arange(y.size), y].sum()
    rows = [
        (
            "softmax C=inf vs statsmodels MNLogit (class k - class 0)",
            np.max(np.abs(params[:, 1:] - params[:, :1] - ref.params)),
            np.max(np.abs(ours.predict_proba(X) - ref.predict(sm.add_constant(X)))),
            (ref.llf - llf) / abs(ref.llf),
        )
    ]
    Y = (rng.random((2000, 4)) < 1 / (1 + np.exp(-Z))).astype(int)
    ours = SigmoidMultiLabelClassifier(C=np.inf, **TIGHT).fit(X, Y)
    d_par, d_prob, llf, ref_llf = 0.0, 0.0, 0.0, 0.0
    log_p = ours.predict_log_proba(X)
    for j in range(4):
        ref = sm.Logit(Y[:, j], sm.add_constant(X)).fit(method="newton", tol=1e-12, disp=0)
        d_par = max(d_par, np.max(np.abs(np.r_[ours.intercept_[j], ours.coef_[j]] - ref.params)))
        d_prob = max(d_prob, np.max(np.abs(ours.predict_proba(X)[:, j] - ref.predict())))
        ref_llf += ref.llf
    llf = np.sum(np.where(Y == 1, log_p, np.log1p(-np.exp(log_p))))
    rows.append(
        (
            "sigmoid C=inf vs statsmodels Logit per label (4 labels)",
            d_par,
            d_prob,
            (ref_llf - llf) / abs(ref_llf),
        )
    )
    return rows


def torch_rows():
    """PyTorch's losses at our optimum: the gradient of C * loss_sum + ||W||^2 / 2 there.

    Rows: CrossEntropyLoss(weight, label_smoothing) on labels, on soft targets, and
    BCEWithLogitsLoss(pos_weight) on soft multi-label targets. Printed as the largest
    gradient entry (0 at the optimum) in the coefficient column; proba and objective
    columns are not applicable (nan).
    """
    import torch

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    C, eps, w = 0.7, 0.15, np.array([1.0, 2.0, 0.5])
    P = 0.6 * np.eye(3)[y] + 0.4 * rng.dirichlet(np.ones(3), size=y.size)
    Y = np.clip(np.eye(3)[y] * 0.8 + 0.1 * rng.random((y.size, 3)), 0, 1)
    pos_weight = np.array([2.0, 0.5, 1.5])
    cases = [
        (
            "labels, class weights, label smoothing 0.15",
            SoftmaxRegressionClassifier(
                C=C, label_smoothing=eps, class_weight=dict(enumerate(w)), **TIGHT
            ),
            y,
            torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=eps, reduction="sum"),
        ),
        (
            "soft targets, class weights",
            SoftmaxRegressionClassifier(C=C, class_weight=dict(enumerate(w)), **TIGHT),
            P,
            torch.nn.CrossEntropyLoss(weight=torch.tensor(w), reduction="sum"),
        ),
        (
            "soft multi-label, pos_weight",
            SigmoidMultiLabelClassifier(C=C, pos_weight=pos_weight, **TIGHT),
            Y,
            torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight), reduction="sum"),
        ),
    ]
    rows = []
    for name, clf, target, loss in cases:
        clf.fit(X, target)
        W = torch.tensor(clf.coef_, dtype=torch.float64, requires_grad=True)
        b = torch.tensor(clf.intercept_, dtype=torch.float64, requires_grad=True)
        objective = C * loss(torch.tensor(X) @ W.T + b, torch.tensor(target)) + 0.5 * (W**2).sum()
        objective.backward()
        grad = max(W.grad.abs().max().item(), b.grad.abs().max().item())
        rows.append(
            (f"PyTorch {type(loss).__name__}: {name} (max |grad| at ours)", grad, np.nan, np.nan)
        )
    return rows


def main():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = sklearn_rows()
        try:
            rows += statsmodels_rows()
        except ImportError:
            print("(statsmodels not installed: its rows are left out)")
        try:
            rows += torch_rows()
        except ImportError:
            print("(PyTorch not installed: its rows are left out)")
    width = max(len(r[0]) for r in rows)
    print(f"{'fit':<{width}}  max|d coef|  max|d proba|  d objective (rel.)")
    for name, d_coef, d_proba, d_obj in rows:
        print(f"{name:<{width}}  {d_coef:11.2e}  {d_proba:12.2e}  {d_obj:18.1e}")


if __name__ == "__main__":
    main()
