"""scikit-learn's own tests of LogisticRegressionCV (``sklearn/linear_model/tests/
test_logistic.py``, 1.9), run against SoftmaxRegressionCV: the same data, the same
assertions, our attribute shapes (``coefs_paths_`` (n_folds, n_Cs, n_outputs, n_features
+ 1), ``scores_`` (n_folds, n_Cs), ``C_`` a float). Where a test compares two fits at a
tolerance that only its solver reaches (liblinear, saga), the comparison is made at the
tolerance our L-BFGS reaches, with the reason beside it."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, get_scorer
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import LabelEncoder, scale

from skmultinomial import SoftmaxRegressionClassifier, SoftmaxRegressionCV

from conftest import SKLEARN_VERSION, lrcv

SEEDS = [0, 42]
NEEDS_BRIER_LABELS = pytest.mark.skipif(
    SKLEARN_VERSION < (1, 7), reason="the multiclass Brier score is scikit-learn >= 1.7's"
)


def _exact(**params):
    """The optimum, by Newton's method to the last digits."""
    return LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000, **params)


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_cv(seed):
    n_samples, n_features, n_cv = 50, 5, 3
    rng = np.random.RandomState(seed)
    X = rng.randn(n_samples, n_features)
    y = np.sign(X.dot(5 * rng.randn(n_features)))
    X -= X.mean()
    X /= X.std()
    # scikit-learn compares liblinear's two fits at its tol=1e-4 to 6 decimals; L-BFGS
    # fits started from zero and from the folds' mean meet there at tol=1e-8
    tight = {"fit_intercept": False, "tol": 1e-8}
    cv = SoftmaxRegressionCV(Cs=[1.0], cv=n_cv, scoring="neg_log_loss", **tight).fit(X, y)
    model = SoftmaxRegressionClassifier(C=1.0, **tight).fit(X, y)
    np.testing.assert_array_almost_equal(model.coef_, cv.coef_)
    exact = _exact(C=1.0, fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(cv.coef_, exact.coef_, rtol=1e-6)
    assert cv.coef_.shape == (1, n_features)
    np.testing.assert_array_equal(cv.classes_, [-1, 1])
    assert cv.Cs_.shape == (1,)
    assert cv.coefs_paths_.shape == (n_cv, 1, 1, n_features)
    assert isinstance(cv.C_, float)
    assert cv.scores_.shape == (n_cv, 1)


def test_logistic_cv_mock_scorer():
    class MockScorer:
        def __init__(self):
            self.calls = 0
            self.scores = [0.1, 0.4, 0.8, 0.5]

        def __call__(self, model, X, y, sample_weight=None):
            score = self.scores[self.calls % len(self.scores)]
            self.calls += 1
            return score

    mock_scorer = MockScorer()
    Cs, cv = [1, 2, 3, 4], 2
    model = SoftmaxRegressionCV(Cs=Cs, scoring=mock_scorer, cv=cv)
    X, y = make_classification(random_state=0)
    model.fit(X, y)
    assert model.C_ == Cs[2]  # the highest score, 0.8
    assert mock_scorer.calls == cv * len(Cs)
    mock_scorer.calls = 0
    assert model.score(X, model.predict(X)) == mock_scorer.scores[0]
    assert mock_scorer.calls == 1


def test_multinomial_logistic_regression_string_inputs():
    X, y = make_classification(
        n_samples=50, n_features=5, n_classes=3, n_informative=3, random_state=0
    )
    y_str = LabelEncoder().fit(["bar", "baz", "foo"]).inverse_transform(y)
    y = np.array(y) - 1
    numbers = SoftmaxRegressionCV(Cs=3).fit(X, y)
    strings = SoftmaxRegressionCV(Cs=3).fit(X, y_str)
    np.testing.assert_allclose(numbers.coef_, strings.coef_)
    np.testing.assert_allclose(numbers.predict_proba(X), strings.predict_proba(X))
    assert sorted(strings.classes_) == ["bar", "baz", "foo"]
    assert set(np.unique(strings.predict(X))) <= {"bar", "baz", "foo"}
    strings = SoftmaxRegressionCV(Cs=[1, 2, 10]).fit(X, y_str)
    assert sorted(np.unique(strings.predict(X))) == ["bar", "baz", "foo"]
    weighted = SoftmaxRegressionCV(Cs=[1, 2, 10], class_weight={"bar": 1, "baz": 2, "foo": 0})
    assert sorted(np.unique(weighted.fit(X, y_str).predict(X))) == ["bar", "baz"]


def test_multinomial_cv_iris():
    X, y = load_iris(return_X_y=True)
    n_features, n_cv = X.shape[1], 2
    folds = list(StratifiedKFold(n_cv).split(X, y))
    clf = SoftmaxRegressionCV(cv=folds, scoring="neg_log_loss").fit(X, y)
    assert clf.coef_.shape == (3, n_features)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.coefs_paths_.shape == (n_cv, 10, 3, n_features + 1)
    assert clf.Cs_.shape == (10,)
    assert clf.scores_.shape == (n_cv, 10)

    # the multinomial model scores better than one-vs-rest
    ovr = GridSearchCV(
        OneVsRestClassifier(LogisticRegression(solver="newton-cholesky")),
        {"estimator__C": np.logspace(-4, 4, num=10)},
        scoring="neg_log_loss",
    ).fit(X, y)
    Xs = scale(X)
    for max_iter, tol in [(30, 1e-2), (1000, 1e-4)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            multi = SoftmaxRegressionCV(max_iter=max_iter, tol=tol, cv=2, scoring="neg_log_loss")
            multi.fit(Xs, y)
        assert multi.score(Xs, y) > ovr.score(Xs, y)
        for fold in range(n_cv):
            coefs = multi.coefs_paths_[fold, :, :, :-1]
            norms = np.sum(coefs * coefs, axis=(-2, -1))  # grow with C
            assert np.all(np.diff(norms) >= 0)

    # folds whose training and held-out rows share no class
    cv = KFold(n_splits=3)
    for train, test in cv.split(X, y):
        assert len(np.unique(y[train])) == 2 and len(np.unique(y[test])) == 1
    assert np.all(SoftmaxRegressionCV(cv=cv, scoring="accuracy").fit(X, y).scores_ == 0.0)


@NEEDS_BRIER_LABELS
def test_multinomial_cv_iris_brier_score_on_folds_missing_classes():
    X, y = load_iris(return_X_y=True)
    clf = SoftmaxRegressionCV(cv=KFold(3), scoring="neg_brier_score", Cs=np.logspace(-6, 3, 10))
    clf.fit(X, y)
    assert clf.C_ == 1e-6  # the smallest C
    brier_scores = -clf.scores_
    assert np.all(brier_scores > 0.7 * 2)  # bad: no held-out class was trained on
    assert np.min(brier_scores) < 0.8 * 2  # but better than the worst, 1 (x2)


@NEEDS_BRIER_LABELS
@pytest.mark.parametrize("enable_metadata_routing", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_cv_folds_with_classes_missing(enable_metadata_routing, n_classes):
    with config_context(enable_metadata_routing=enable_metadata_routing):
        y = np.array(["a", "a", "b", "b", "c", "c"])[: 2 * n_classes]
        X = np.arange(2 * n_classes)[:, None].astype(float)
        cv = KFold(n_splits=n_classes)
        for train, test in cv.split(X, y):
            assert set(y[train]) & set(y[test]) == set()
        clf = SoftmaxRegressionCV(cv=cv, scoring="neg_brier_score", Cs=np.logspace(-6, 6, 5))
        clf.fit(X, y)
        assert clf.C_ == 1e-6
        labels = ["a", "b", "c"][:n_classes]
        binary = {"pos_label": "b"} if n_classes == 2 else {}
        for i, (_, test) in enumerate(cv.split(X, y)):
            fold = SoftmaxRegressionClassifier(C=clf.C_).fit(X, y)
            fold.coef_ = clf.coefs_paths_[i, 0, :, :-1]
            fold.intercept_ = clf.coefs_paths_[i, 0, :, -1]
            expected = brier_score_loss(
                y[test], fold.predict_proba(X[test]), labels=labels, **binary
            )
            np.testing.assert_allclose(-clf.scores_[i, 0], expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_cv_sparse(seed):
    X, y = make_classification(n_samples=100, n_features=5, random_state=seed)
    X[X < 0.0] = 0.0
    params = dict(Cs=[1e-1, 1, 1e1], max_iter=10_000, tol=1e-7)
    dense = SoftmaxRegressionCV(**params).fit(X, y)
    sparse = SoftmaxRegressionCV(**params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-5)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-5)
    assert sparse.C_ == dense.C_


@pytest.mark.parametrize("weight", [{0: 0.1, 1: 0.2}, {0: 0.1, 1: 0.2, 2: 0.5}])
@pytest.mark.parametrize("class_weight", ["weight", "balanced"])
@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_regressioncv_class_weights(weight, class_weight, seed):
    class_weight = weight if class_weight == "weight" else class_weight
    X, y = make_classification(
        n_samples=30,
        n_features=3,
        n_repeated=0,
        n_informative=3,
        n_redundant=0,
        n_classes=len(weight),
        random_state=seed,
    )
    params = dict(Cs=1, fit_intercept=False, class_weight=class_weight, tol=1e-8)
    reference = lrcv(solver="newton-cg", scoring="neg_log_loss", **params).fit(X, y)
    ours = SoftmaxRegressionCV(**params).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_regression_cv_refit(seed):
    X, y = make_classification(n_samples=100, n_features=20, random_state=seed)
    tight = dict(max_iter=10_000, tol=1e-12)
    cv = SoftmaxRegressionCV(Cs=[1.0], refit=True, **tight).fit(X, y)
    model = SoftmaxRegressionClassifier(C=1.0, **tight).fit(X, y)
    # scikit-learn's test uses saga; at tol=1e-12 L-BFGS (ours and scikit-learn's)
    # stops where the objective's rounding hides its decrease, about 1e-7 from the optimum
    exact = _exact(C=1.0).fit(X, y)
    for fitted in (cv, model):
        np.testing.assert_allclose(fitted.coef_, exact.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cv.coef_, model.coef_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_classes", (2, 3))
def test_logistic_regression_cv_no_refit(n_classes):
    n_features = 20
    X, y = make_classification(
        n_samples=200,
        n_classes=n_classes,
        n_informative=n_classes,
        n_features=n_features,
        random_state=0,
    )
    cv = SoftmaxRegressionCV(Cs=np.logspace(-4, 4, 3), tol=1e-2, refit=False).fit(X, y)
    assert cv.coef_.shape == (1 if n_classes == 2 else n_classes, n_features)
    assert isinstance(cv.C_, float)
    best = list(cv.Cs_).index(cv.C_)
    np.testing.assert_allclose(cv.coef_, cv.coefs_paths_[:, best, :, :-1].mean(axis=0))
    assert cv.predict_proba(X).shape == (200, n_classes)


def test_logistic_regression_cv_on_folds():
    X, y = load_iris(return_X_y=True)
    cv = SoftmaxRegressionCV(tol=1e-8, scoring="neg_log_loss").fit(X, y)
    folds = list(StratifiedKFold(5).split(X, y))  # the default split
    for fold, k in [[0, 0], [0, 1], [3, 6]]:
        train = folds[fold][0]
        model = LogisticRegression(C=cv.Cs_[k], solver="newton-cholesky", tol=1e-8)
        model.fit(X[train], y[train])
        np.testing.assert_allclose(cv.coefs_paths_[fold, k, :, :-1], model.coef_, rtol=1e-5)
        np.testing.assert_allclose(cv.coefs_paths_[fold, k, :, -1], model.intercept_, rtol=1e-5)


def _weighted_train_and_test(seed, n_samples):
    """Two draws of make_classification, the first half of the training rows weighing 2."""
    rng = np.random.RandomState(seed)
    X, y = make_classification(n_samples=n_samples, random_state=rng)
    X_t, y_t = make_classification(n_samples=n_samples, random_state=rng)
    sample_weight = np.ones(len(y))
    sample_weight[: len(y) // 2] = 2
    return X, y, X_t, y_t, {"sample_weight": sample_weight}


@pytest.mark.parametrize("seed", SEEDS)
def test_lr_cv_scores_differ_when_sample_weight_is_requested(seed):
    X, y, X_t, y_t, kwargs = _weighted_train_and_test(seed, 2000)
    with config_context(enable_metadata_routing=True):
        scorer1 = get_scorer("accuracy").set_score_request(sample_weight=False)
        cv1 = SoftmaxRegressionCV(scoring=scorer1, tol=3e-6).fit(X, y, **kwargs)
        scorer2 = get_scorer("accuracy").set_score_request(sample_weight=True)
        cv2 = SoftmaxRegressionCV(scoring=scorer2, tol=3e-6).fit(X, y, **kwargs)
        assert not np.allclose(cv1.scores_, cv2.scores_)
        message = (
            "SoftmaxRegressionCV.score got unexpected argument(s) {'sample_weight'}, "
            "which are not routed to any object."
        )
        with pytest.raises(TypeError, match=re.escape(message)):
            cv1.score(X_t, y_t, **kwargs)
        assert not np.allclose(cv1.score(X_t, y_t), cv2.score(X_t, y_t, **kwargs))


def test_lr_cv_scores_without_enabling_metadata_routing():
    X, y, X_t, y_t, kwargs = _weighted_train_and_test(10, 10)
    with config_context(enable_metadata_routing=False):
        cv1 = SoftmaxRegressionCV(scoring=get_scorer("accuracy")).fit(X, y, **kwargs)
        score_1 = cv1.score(X_t, y_t, **kwargs)
    with config_context(enable_metadata_routing=True):
        scorer2 = get_scorer("accuracy").set_score_request(sample_weight=True)
        cv2 = SoftmaxRegressionCV(scoring=scorer2).fit(X, y, **kwargs)
        score_2 = cv2.score(X_t, y_t, **kwargs)
    np.testing.assert_allclose(cv1.scores_, cv2.scores_)
    np.testing.assert_allclose(score_1, score_2)
