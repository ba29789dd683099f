"""SoftmaxRegressionCV and SigmoidMultiLabelCV against LogisticRegressionCV, its one-vs-rest
form, and GridSearchCV over our own estimators on the same folds."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, make_scorer
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    StratifiedKFold,
    cross_validate,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skmultinomial import (
    SigmoidMultiLabelClassifier,
    SigmoidMultiLabelCV,
    SoftmaxRegressionClassifier,
    SoftmaxRegressionCV,
    _tuning,
)
from skmultinomial.metrics import binary_cross_entropy_scorer, cross_entropy_scorer

from conftest import SKLEARN_VERSION, lrcv, lrcv_C, lrcv_scores, reference_class_weight

TIGHT = {"tol": 1e-8, "max_iter": 10_000}
# Up to C=10: beyond, nearly separable labels leave the objective so flat that two
# solvers' tightest fits score 1e-4 apart (each as far from the exact optimum's score).
CS = np.logspace(-3, 1, 5)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # scikit-learn's references on these small problems run several times faster so;
    # our fits run BLAS on one thread anyway
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    """600 standardised digits, 10 classes."""
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[:600]), y[:600]


@pytest.fixture(scope="module")
def labels(digits):
    """Five labels of the digits: even, > 4, prime, multiple of 3, a zero (10%)."""
    X, y = digits
    Y = np.column_stack([y % 2 == 0, y > 4, np.isin(y, [2, 3, 5, 7]), y % 3 == 0, y == 0])
    return X, Y.astype(int)


def _folds(X, y, n=3):
    splitter = StratifiedKFold(n, shuffle=True, random_state=0) if y.ndim == 1 else KFold(n)
    return list(splitter.split(X, y))


# --- the same choice and scores as scikit-learn's ------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_cv_chooses_the_C_and_scores_of_logistic_regression_cv(digits, weighted):
    X, y = digits
    folds = _folds(X, y)
    weights = {}
    if weighted:
        weights = {"sample_weight": np.random.default_rng(0).uniform(0.2, 3.0, size=y.size)}
    params = {"Cs": CS, "cv": folds, "scoring": "neg_log_loss"}
    ours = SoftmaxRegressionCV(**params, class_weight="balanced", **TIGHT).fit(X, y, **weights)
    balanced = reference_class_weight("balanced", y, weights.get("sample_weight"))
    ref = lrcv(**params, class_weight=balanced, tol=1e-10, max_iter=10_000)
    ref.fit(X, y, **weights)
    assert ours.C_ == lrcv_C(ref)
    np.testing.assert_allclose(ours.scores_, lrcv_scores(ref), atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)


def test_softmax_cv_of_two_classes_is_logistic_regression_cv():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    folds = _folds(X, y)
    ours = SoftmaxRegressionCV(Cs=CS, cv=folds, scoring="neg_log_loss", **TIGHT).fit(X, y)
    ref = lrcv(Cs=CS, cv=folds, scoring="neg_log_loss", tol=1e-10, max_iter=10_000).fit(X, y)
    assert ours.C_ == lrcv_C(ref) and ours.coefs_paths_.shape == (3, 5, 1, 31)
    np.testing.assert_allclose(ours.scores_, lrcv_scores(ref), atol=1e-5)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)


@pytest.mark.parametrize("targets", ["labels", "classes"])
def test_sigmoid_cv_chooses_each_labels_C_as_one_vs_rest_logistic_regression_cv(
    targets, labels, digits
):
    # a 2-D Y of labels, or 1-D labels of 10 classes (one sigmoid per class)
    X, Y = labels if targets == "labels" else digits
    folds = _folds(X, Y)
    ours = SigmoidMultiLabelCV(Cs=CS, cv=folds, scoring="neg_log_loss", **TIGHT).fit(X, Y)
    ref = OneVsRestClassifier(
        lrcv(Cs=CS, cv=folds, scoring="neg_log_loss", tol=1e-10, max_iter=10_000)
    ).fit(X, Y)
    np.testing.assert_array_equal(ours.C_, [lrcv_C(e) for e in ref.estimators_])
    assert len(set(ours.C_)) > 1  # the labels do not all want the same C
    for label, estimator in enumerate(ref.estimators_):
        np.testing.assert_allclose(ours.scores_[label], lrcv_scores(estimator), atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


# --- accuracy along the path ---------------------------------------------------------


def test_path_points_are_as_accurate_as_cold_fits_at_tol(digits):
    # At the default tol, a warm start at a large C passes the gradient test where it
    # starts; the path's points still score as cold fits would, or closer.
    X, y = digits
    folds = _folds(X, y)
    Cs = np.logspace(-2, 4, 7)

    def grid(tol):
        search = GridSearchCV(
            SoftmaxRegressionClassifier(tol=tol, max_iter=100_000),
            {"C": Cs},
            cv=folds,
            scoring="neg_log_loss",
        )
        return search.fit(X, y).cv_results_["mean_test_score"]

    exact = grid(1e-12)
    cold = np.abs(grid(1e-4) - exact)
    with _tuning.trace() as records:
        path = SoftmaxRegressionCV(Cs=Cs, cv=folds, scoring="neg_log_loss").fit(X, y)
    error = np.abs(path.scores_.mean(axis=0) - exact)
    assert np.all(error <= np.maximum(cold, 2e-4))
    assert error[-3:].max() < 0.1 * cold[-3:].max()  # where cold fits are off, far closer
    thresholds = [facts["thresholds"][0] for kind, facts in records if kind == "solve"]
    assert thresholds[0] == 1e-4 and max(thresholds[1:]) <= 1e-4  # cold first, relative after
    assert np.all(path.n_iter_[:, 1:] > 0)  # no warm start stopped where it began


def test_points_that_do_not_converge_give_one_warning_for_the_path(digits):
    X, y = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SoftmaxRegressionCV(Cs=CS, cv=3, max_iter=3, refit=False).fit(X, y)
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == 1 and "points of the cross-validation path" in messages[0]
    assert "fold 0, C=0.01" in messages[0] and "max_iter" in messages[0]
    assert not [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converged paths say nothing
        SoftmaxRegressionCV(Cs=CS, cv=3).fit(X, y)


# --- scores: the default, any scorer, weights ----------------------------------------


def test_default_score_is_the_held_out_cross_entropy(digits):
    # equal to neg_log_loss where no probability underflows (log_loss clips at eps)
    X, y = digits
    default = SoftmaxRegressionCV(Cs=CS, cv=3).fit(X, y)
    named = SoftmaxRegressionCV(Cs=CS, cv=3, scoring="neg_log_loss").fit(X, y)
    np.testing.assert_allclose(default.scores_, named.scores_, rtol=1e-10)
    assert default.score(X, y) == pytest.approx(get_scorer("neg_log_loss")(default, X, y))


def test_sigmoid_default_score_is_each_labels_held_out_cross_entropy(labels):
    # equal to neg_log_loss where no probability underflows (log_loss clips at eps)
    X, Y = labels
    default = SigmoidMultiLabelCV(Cs=CS, cv=3).fit(X, Y)
    named = SigmoidMultiLabelCV(Cs=CS, cv=3, scoring="neg_log_loss").fit(X, Y)
    np.testing.assert_allclose(default.scores_, named.scores_, rtol=1e-10)
    expected = binary_cross_entropy_scorer(default, X, Y) / Y.shape[1]  # mean over labels
    assert default.score(X, Y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("kind", ["softmax", "binary softmax", "multi-label", "one-vs-rest"])
def test_neg_log_loss_equals_scikit_learns_scorer_where_it_clips(kind):
    # "neg_log_loss" is computed from predict_proba as its scorer computes it; the same
    # metric given as a scorer object goes through scikit-learn's scorer. Separable
    # training rows fitted up to C=1e6 put the probabilities of a few wrongly labelled
    # held-out rows below eps, where log_loss clips them, and those of the others
    # within eps of 1, where a binary scorer's 1 - p rounds; weights reach the score.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((240, 4))
    Z = X @ rng.standard_normal((4, 3))
    y = {
        "softmax": Z.argmax(axis=1),
        "binary softmax": (Z[:, 0] > 0).astype(int),
        "multi-label": (Z > 0).astype(int),
        "one-vs-rest": np.where(Z[:, 0] > 0, 0, np.where(Z[:, 1] > 0, 1, 2)),  # 0 separable
    }[kind]
    y[:6] = 1 - y[:6] if y.ndim == 2 else (y[:6] + 1) % 2  # held out, wrongly labelled
    folds = [(np.arange(60, 240), np.arange(60)), (np.arange(120), np.arange(120, 240))]
    estimator = SoftmaxRegressionCV if "softmax" in kind else SigmoidMultiLabelCV
    scorer = make_scorer(sk_log_loss, greater_is_better=False, response_method="predict_proba")
    weights = rng.uniform(0.5, 2, len(y))
    fits = {}
    for scoring in ("neg_log_loss", scorer, None):
        model = estimator(Cs=np.logspace(-2, 6, 5), cv=folds, scoring=scoring)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # separable: C=1e6 is far
            fits[type(scoring)] = model.fit(X, y, sample_weight=weights).scores_
    fast, general, exact = fits[str], fits[type(scorer)], fits[type(None)]
    np.testing.assert_allclose(fast, general, rtol=1e-12, atol=0)
    # the clipping binds: the unclipped cross-entropy (scoring=None) differs at large C
    np.testing.assert_allclose(exact[..., 0], fast[..., 0], rtol=1e-10)
    assert np.max(np.abs(exact[..., -1] - fast[..., -1])) > 1e-2


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("estimator", [SoftmaxRegressionCV, SigmoidMultiLabelCV])
def test_neg_log_loss_scores_held_out_rows_without_validating_them_again(
    estimator, dtype, sparse, monkeypatch
):
    # The held-out rows were validated with the fit's X: "neg_log_loss" takes each
    # view's probabilities from its logits, not through predict_proba (whose check of X
    # took 80% of a label's score on 4,000 x 60), and they are the same numbers.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 5)) * (rng.random((300, 5)) < 0.6)
    Z = X @ rng.standard_normal((5, 3))
    y = Z.argmax(axis=1) if estimator is SoftmaxRegressionCV else (Z > 0).astype(int)
    X = (sp.csr_matrix(X) if sparse else X).astype(dtype)
    folds = list(KFold(3).split(X))
    scorer = make_scorer(sk_log_loss, greater_is_better=False, response_method="predict_proba")
    general = estimator(Cs=4, cv=folds, scoring=scorer).fit(X, y).scores_
    base = (
        SoftmaxRegressionClassifier
        if estimator is SoftmaxRegressionCV
        else (SigmoidMultiLabelClassifier)
    )
    calls = []
    predict_proba = base.predict_proba
    monkeypatch.setattr(
        base, "predict_proba", lambda self, X: calls.append(1) or predict_proba(self, X)
    )
    fast = estimator(Cs=4, cv=folds, scoring="neg_log_loss", refit=False).fit(X, y).scores_
    assert calls == []
    np.testing.assert_allclose(fast, general, rtol=1e-12)


def test_any_scorer_scores_the_path_as_logistic_regression_cv_does(labels):
    X, Y = labels
    folds = _folds(X, Y)
    for scoring in ("accuracy", "neg_log_loss"):
        ours = SigmoidMultiLabelCV(Cs=CS, cv=folds, scoring=scoring, **TIGHT).fit(X, Y)
        ref = lrcv(Cs=CS, cv=folds, scoring=scoring, tol=1e-10, max_iter=10_000)
        np.testing.assert_allclose(ours.scores_[4], lrcv_scores(ref.fit(X, Y[:, 4])), atol=1e-6)


def test_a_scorer_is_told_the_labels_a_fold_lacks(labels):
    # neg_log_loss where a fold's held-out rows have no positive of a label: the labels
    # [0, 1] are given to log_loss (scikit-learn 1.9's LogisticRegressionCV does so for
    # its folds; 1.6's raises)
    X, Y = labels
    rare = Y[:, 4]
    test = np.flatnonzero((rare == 0) & (np.arange(rare.size) >= 300))
    train = np.setdiff1d(np.arange(rare.size), test)
    ours = SigmoidMultiLabelCV(Cs=CS, cv=[(train, test)], scoring="neg_log_loss", **TIGHT)
    ours.fit(X, Y)
    for k, C in enumerate(CS):
        point = SigmoidMultiLabelClassifier(C=C, **TIGHT).fit(X[train], rare[train])
        expected = -sk_log_loss(rare[test], point.predict_proba(X[test]), labels=[0, 1])
        assert ours.scores_[4, 0, k] == pytest.approx(expected, abs=1e-6)


def test_soft_targets_and_label_smoothing_carried_through_as_a_grid_search(digits):
    X, y = digits
    rng = np.random.default_rng(1)
    P = 0.7 * np.eye(10)[y] + 0.3 * rng.dirichlet(np.ones(10), size=y.size)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    ours = SoftmaxRegressionCV(Cs=CS, cv=folds, label_smoothing=0.1, **TIGHT).fit(X, P)
    search = GridSearchCV(
        SoftmaxRegressionClassifier(label_smoothing=0.1, tol=1e-10, max_iter=10_000),
        {"C": CS},
        cv=folds,
        scoring=cross_entropy_scorer,
    ).fit(X, P)
    np.testing.assert_allclose(
        ours.scores_.mean(axis=0), search.cv_results_["mean_test_score"], atol=1e-7
    )
    assert ours.C_ == search.best_params_["C"]
    np.testing.assert_allclose(ours.coef_, search.best_estimator_.coef_, atol=1e-5)


def test_sigmoid_weights_and_soft_labels_carried_through_as_a_grid_search_per_label(labels):
    X, Y = labels
    soft = np.clip(Y + np.random.default_rng(2).normal(scale=0.1, size=Y.shape), 0, 1)
    folds = _folds(X, soft)
    params = {"pos_weight": 2.0, "label_smoothing": 0.05}
    ours = SigmoidMultiLabelCV(Cs=CS, cv=folds, **params, **TIGHT).fit(X, soft)
    for label in (0, 4):
        search = GridSearchCV(
            SigmoidMultiLabelClassifier(**params, tol=1e-10, max_iter=10_000),
            {"C": CS},
            cv=folds,
            scoring=binary_cross_entropy_scorer,
        ).fit(X, soft[:, [label]].repeat(2, axis=1))  # a 2-D Y of one label, twice
        np.testing.assert_allclose(
            ours.scores_[label].mean(axis=0),
            search.cv_results_["mean_test_score"] / 2,
            atol=1e-7,
        )
        assert ours.C_[label] == search.best_params_["C"]


def test_sample_weight_weighs_the_fits_and_the_scores(digits):
    X, y = digits
    w = np.random.default_rng(3).integers(0, 3, size=y.size)
    folds = _folds(X, y)
    weighted = SoftmaxRegressionCV(Cs=CS, cv=folds, **TIGHT).fit(X, y, sample_weight=w)
    rows = np.repeat(np.arange(y.size), w)  # the same folds, rows repeated
    repeated_folds = [
        (np.flatnonzero(np.isin(rows, train)), np.flatnonzero(np.isin(rows, test)))
        for train, test in folds
    ]
    repeated = SoftmaxRegressionCV(Cs=CS, cv=repeated_folds, **TIGHT).fit(X[rows], y[rows])
    np.testing.assert_allclose(weighted.scores_, repeated.scores_, atol=1e-6)
    assert weighted.C_ == repeated.C_
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-5)


# --- the fitted model ---------------------------------------------------------------


def test_refit_is_the_model_at_the_chosen_C(digits, labels):
    # the same objective at its end (loss_curve_[-1]) as a fit at C_ from zero
    X, y = digits
    cv = SoftmaxRegressionCV(Cs=CS, cv=3, **TIGHT).fit(X, y)
    alone = SoftmaxRegressionClassifier(C=cv.C_, **TIGHT).fit(X, y)
    assert cv.loss_curve_[-1] == pytest.approx(alone.loss_curve_[-1], rel=1e-8)
    np.testing.assert_allclose(cv.predict_proba(X), alone.predict_proba(X), atol=1e-5)
    X, Y = labels
    cv = SigmoidMultiLabelCV(Cs=CS, cv=3, **TIGHT).fit(X, Y)
    for label, C in enumerate(cv.C_):
        alone = SigmoidMultiLabelClassifier(C=C, **TIGHT).fit(X, Y[:, label])
        assert cv.loss_curve_[label][-1] == pytest.approx(alone.loss_curve_[0][-1], rel=1e-8)
        np.testing.assert_allclose(
            cv.predict_proba(X)[:, label], alone.predict_proba(X)[:, 1], atol=1e-5
        )


def test_cov_type_applies_to_the_refit_at_each_labels_C(labels):
    X, Y = labels
    X = X[:, X.std(axis=0) > 0.5][:, :12]  # few terms, none constant
    cv = SigmoidMultiLabelCV(Cs=CS, cv=3, cov_type="nonrobust").fit(X, Y)
    assert len(set(cv.C_)) > 1
    for label, C in enumerate(cv.C_):
        alone = SigmoidMultiLabelClassifier(C=C, cov_type="nonrobust").fit(X, Y[:, label])
        np.testing.assert_allclose(cv.cov_params_[label], alone.cov_params_[0], rtol=1e-6)
    assert cv.summary().shape[0] == Y.shape[1] * (X.shape[1] + 1)
    with pytest.raises(ValueError, match="set refit=True"):
        SigmoidMultiLabelCV(cov_type="nonrobust", refit=False).fit(X, Y)


def test_without_refit_the_model_is_the_folds_mean_at_the_chosen_C(digits, labels):
    X, y = digits
    cv = SoftmaxRegressionCV(Cs=CS, cv=3, refit=False).fit(X, y)
    best = list(cv.Cs_).index(cv.C_)
    mean = cv.coefs_paths_[:, best].mean(axis=0)
    np.testing.assert_allclose(cv.coef_, mean[:, :-1])
    np.testing.assert_allclose(cv.intercept_, mean[:, -1])
    assert not hasattr(cv, "loss_curve_")
    X, Y = labels
    cv = SigmoidMultiLabelCV(Cs=CS, cv=3, refit=False).fit(X, Y)
    for label, C in enumerate(cv.C_):
        mean = cv.coefs_paths_[label][:, list(cv.Cs_).index(C)].mean(axis=0)
        np.testing.assert_allclose(cv.coef_[label], mean[:-1])


def test_a_refit_forgets_the_attributes_of_an_earlier_fit(digits):
    X, y = digits
    cv = SoftmaxRegressionCV(Cs=3, cv=3, cov_type="nonrobust").fit(X[:, :8], y)
    assert hasattr(cv, "cov_params_") and hasattr(cv, "loss_curve_")
    cv.set_params(cov_type=None, refit=False).fit(X[:, :8], y)
    assert not hasattr(cv, "cov_params_") and not hasattr(cv, "loss_curve_")


# --- scikit-learn's machinery --------------------------------------------------------


def test_folds_in_parallel_equal_folds_in_turn(labels):
    X, Y = labels
    one = SigmoidMultiLabelCV(Cs=CS, cv=3).fit(X, Y)
    two = SigmoidMultiLabelCV(Cs=CS, cv=3, n_jobs=2).fit(X, Y)
    np.testing.assert_array_equal(one.scores_, two.scores_)
    np.testing.assert_array_equal(one.coef_, two.coef_)


def test_metadata_routing_gives_groups_to_the_splitter_and_weights_to_the_scorer(digits):
    X, y = digits
    groups = np.arange(y.size) % 7
    w = np.random.default_rng(4).uniform(0.5, 2.0, size=y.size)
    explicit = list(GroupKFold(3).split(X, y, groups))
    expected = SoftmaxRegressionCV(Cs=CS, cv=explicit, scoring="accuracy").fit(
        X, y, sample_weight=w
    )
    with config_context(enable_metadata_routing=True):
        scorer = get_scorer("accuracy").set_score_request(sample_weight=True)
        routed = SoftmaxRegressionCV(Cs=CS, cv=GroupKFold(3), scoring=scorer)
        routed.set_fit_request(sample_weight=True).fit(X, y, sample_weight=w, groups=groups)
        ref = lrcv(Cs=CS, cv=GroupKFold(3), scoring=scorer, max_iter=1000)
        ref.set_fit_request(sample_weight=True).fit(X, y, sample_weight=w, groups=groups)
    np.testing.assert_allclose(routed.scores_, expected.scores_)
    np.testing.assert_allclose(routed.scores_, lrcv_scores(ref), atol=0.02)  # accuracy


@pytest.mark.parametrize("multilabel", [False, True])
def test_score_routes_weights_to_the_scorer_as_logistic_regression_cv_does(
    digits, labels, multilabel
):
    # scikit-learn's test_lr_cv_scores_differ_when_sample_weight_is_requested: with routing,
    # score's sample_weight goes to the scorer that requests it and is refused otherwise
    X, y = labels if multilabel else digits
    (X, X_fit), (y, y_fit) = (X[400:], X[:400]), (y[400:], y[:400])  # scored on held-out rows
    Model = SigmoidMultiLabelCV if multilabel else SoftmaxRegressionCV
    w = np.random.default_rng(5).uniform(0.2, 3.0, size=len(X))
    accuracy = get_scorer("accuracy")
    with config_context(enable_metadata_routing=True):
        ignoring = get_scorer("accuracy").set_score_request(sample_weight=False)
        requesting = get_scorer("accuracy").set_score_request(sample_weight=True)
        unweighted = Model(Cs=CS, scoring=ignoring).fit(X_fit, y_fit)
        weighted = Model(Cs=CS, scoring=requesting).fit(X_fit, y_fit)
        message = f"{Model.__name__}.score got unexpected argument(s) {{'sample_weight'}}"
        with pytest.raises(TypeError, match=re.escape(message)):
            unweighted.score(X, y, sample_weight=w)
        # the reference: LogisticRegressionCV.score routes them (checked at scikit-learn 1.9)
        if not multilabel and SKLEARN_VERSION >= (1, 9):
            ref = lrcv(Cs=CS, scoring=ignoring, max_iter=1000).fit(X_fit, y_fit)
            with pytest.raises(TypeError, match="not routed to any object"):
                ref.score(X, y, sample_weight=w)
        routed = [weighted.score(X, y, sample_weight=w), unweighted.score(X, y)]
        default = Model(Cs=CS).fit(X_fit, y_fit)
        default_weighted = default.score(X, y, sample_weight=w)
        with pytest.raises(TypeError, match="not routed to any object"):
            default.score(X, y, sample_weight=w, extra=1)
    views = weighted._group_views(weighted, y)
    expected = np.mean([accuracy(m, X, t, sample_weight=w) for m, t in views])
    np.testing.assert_allclose(routed[0], expected)
    assert routed[0] != routed[1]
    np.testing.assert_allclose(routed[1], weighted.score(X, y))  # no routing: no weights given
    own = binary_cross_entropy_scorer if multilabel else cross_entropy_scorer
    views = default._group_views(default, y)
    np.testing.assert_allclose(
        default_weighted, np.mean([own(m, X, t, sample_weight=w) for m, t in views])
    )
    with pytest.raises(ValueError, match="enable_metadata_routing"):
        default.score(X, y, extra=1)


def test_metadata_without_routing_is_refused_as_logistic_regression_cv_refuses_it(digits):
    X, y = digits
    with pytest.raises(ValueError, match="enable_metadata_routing") as ours:
        SoftmaxRegressionCV(cv=GroupKFold(3)).fit(X, y, groups=np.arange(y.size) % 7)
    with pytest.raises(ValueError, match="enable_metadata_routing"):
        lrcv(cv=GroupKFold(3)).fit(X, y, groups=np.arange(y.size) % 7)
    assert "SoftmaxRegressionCV" in str(ours.value)


def test_nested_in_a_pipeline_and_a_grid_search(labels):
    X, Y = labels
    inner = make_pipeline(StandardScaler(), SigmoidMultiLabelCV(Cs=[0.01, 0.1, 1.0], cv=3))
    outer = GridSearchCV(inner, {"sigmoidmultilabelcv__label_smoothing": [0.0, 0.1]}, cv=2)
    outer.fit(X, Y)
    assert outer.best_estimator_[-1].C_.shape == (Y.shape[1],)
    scores = cross_validate(inner, X, Y, cv=2)["test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)  # minus a cross-entropy


@pytest.mark.parametrize("Cs", [[], [1.0, -1.0], [[1.0]], [np.nan]])
def test_a_grid_of_Cs_must_be_positive_numbers(digits, Cs):
    X, y = digits
    with pytest.raises(ValueError, match="Cs must be an int"):
        SoftmaxRegressionCV(Cs=Cs).fit(X, y)


def test_an_int_Cs_is_logistic_regression_cvs_grid(digits):
    X, y = digits
    grid = SoftmaxRegressionCV(Cs=4, cv=2).fit(X, y).Cs_
    np.testing.assert_array_equal(grid, np.logspace(-4, 4, 4))
    assert SoftmaxRegressionCV(Cs=[np.inf, 1.0], cv=2).fit(X, y).Cs_[0] == np.inf


def test_the_held_out_rows_need_weight(digits):
    X, y = digits
    w = np.ones(y.size)
    w[:200] = 0
    folds = [(np.arange(200, 600), np.arange(200))]
    with pytest.raises(ValueError, match="held-out samples of a fold sum to zero"):
        SoftmaxRegressionCV(Cs=3, cv=folds).fit(X, y, sample_weight=w)


def test_log_loss_reference_is_sklearns_log_loss(digits):
    # the reference the default score is compared with, on one fold's probabilities
    X, y = digits
    cv = SoftmaxRegressionCV(Cs=[1.0], cv=[(np.arange(400), np.arange(400, 600))]).fit(X, y)
    point = SoftmaxRegressionClassifier(C=1.0, tol=cv.tol).fit(X[:400], y[:400])
    expected = -sk_log_loss(y[400:], point.predict_proba(X[400:]), labels=point.classes_)
    assert cv.scores_[0, 0] == pytest.approx(expected, abs=1e-4)


def test_sparse_float32_and_pandas_inputs_fit_the_path_of_dense_float64(digits):
    pd = pytest.importorskip("pandas")
    X, y = digits
    dense = SoftmaxRegressionCV(Cs=CS, cv=3, **TIGHT).fit(X, y)
    sparse = SoftmaxRegressionCV(Cs=CS, cv=3, **TIGHT).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.scores_, dense.scores_, atol=1e-5)
    single = SoftmaxRegressionCV(Cs=CS, cv=3, **TIGHT).fit(X.astype(np.float32), y)
    assert single.coef_.dtype == np.float32 and single.C_ == dense.C_
    np.testing.assert_allclose(single.scores_, dense.scores_, atol=1e-5)
    frame = pd.DataFrame(X, columns=[f"pixel_{j}" for j in range(X.shape[1])])
    named = SoftmaxRegressionCV(Cs=CS, cv=3, **TIGHT).fit(frame, y)
    np.testing.assert_array_equal(named.feature_names_in_, frame.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning
        np.testing.assert_allclose(named.predict_proba(frame), dense.predict_proba(X))


def test_a_sparse_multilabel_Y_is_scored_label_by_label_by_any_scorer(labels):
    X, Y = labels
    folds = _folds(X, Y)
    dense = SigmoidMultiLabelCV(Cs=CS, cv=folds, scoring="roc_auc").fit(X, Y)
    sparse = SigmoidMultiLabelCV(Cs=CS, cv=folds, scoring="roc_auc").fit(X, sp.csr_matrix(Y))
    np.testing.assert_allclose(sparse.scores_, dense.scores_)
    assert sp.issparse(sparse.predict(X[:3]))
    assert sparse.score(X, sp.csr_matrix(Y)) == pytest.approx(dense.score(X, Y))


def test_arrays_of_another_namespace_are_refused_with_the_way_out(digits):
    torch = pytest.importorskip("torch")
    from sklearn.utils._array_api import _check_array_api_dispatch

    try:
        _check_array_api_dispatch(True)
    except (ImportError, RuntimeError) as unavailable:
        pytest.skip(f"array-API dispatch is not available here: {unavailable}")
    X, y = digits
    with config_context(array_api_dispatch=True), pytest.raises(TypeError, match="NumPy copy"):
        SoftmaxRegressionCV(Cs=CS, cv=3).fit(torch.asarray(X), torch.asarray(y))
    assert not SoftmaxRegressionCV().__sklearn_tags__().array_api_support


def test_cluster_errors_are_refused_with_scikit_learns_message(digits):
    # the refit would need the clusters, which metadata routing gives to the splitter
    X, y = digits
    with pytest.raises(ValueError, match="'cov_type' parameter of SoftmaxRegressionCV must be"):
        SoftmaxRegressionCV(Cs=CS, cov_type="cluster").fit(X, y)


def test_a_settled_path_at_a_tight_tol_converges_to_its_last_c():
    # 20k x 60, 6 classes, not separable: at C=1e4 the path has settled and the scaled
    # first step of L-BFGS (the secant's length) finds no lower point at the limit of
    # the objective's precision on 3 of these 5 folds; L-BFGS then starts again unscaled
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 60))
    logits = X @ rng.standard_normal((6, 60)).T * (2 / np.sqrt(60))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.minimum((P.cumsum(axis=1) < rng.random((len(X), 1))).sum(axis=1), 5)  # ~ P
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SoftmaxRegressionCV(Cs=np.logspace(-4, 4, 10), cv=folds, tol=1e-10, max_iter=10_000)
        model.fit(X, y)
    assert np.all(model.n_iter_[:, -1] >= 1)
