"""scikit-learn's own tests of LogisticRegression (``sklearn/linear_model/tests/
test_logistic.py``, 1.9), run against SoftmaxRegressionClassifier: the same data, the
same assertions. Where a test compares scikit-learn's solvers with each other, ours is
compared with them (lbfgs, newton-cg, newton-cholesky); tests of what we do not have
(L1 and elastic-net penalties, liblinear, sag, dual, ``penalty=``) are not ported. The
LogisticRegressionCV tests are in ``test_cv_sklearn_suite.py``."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_almost_equal, assert_array_equal
from scipy.linalg import svd
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_low_rank_matrix
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import LabelEncoder, scale
from sklearn.utils import compute_class_weight

from skmultinomial import SoftmaxRegressionClassifier

SEEDS = [0, 42]
X = [[-1, 0], [0, 1], [1, 1]]
Y1 = [0, 1, 1]
Y2 = [2, 1, 0]
iris = load_iris()
PEERS = ("lbfgs", "newton-cg", "newton-cholesky")


def check_predictions(clf, X, y):
    """Check that the model is able to fit the classification data"""
    n_samples = len(y)
    classes = np.unique(y)
    n_classes = classes.shape[0]

    predicted = clf.fit(X, y).predict(X)
    assert_array_equal(clf.classes_, classes)

    assert predicted.shape == (n_samples,)
    assert_array_equal(predicted, y)

    probabilities = clf.predict_proba(X)
    assert probabilities.shape == (n_samples, n_classes)
    assert_allclose(probabilities.sum(axis=1), np.ones(n_samples))
    assert_array_equal(probabilities.argmax(axis=1), y)


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_predict_2_classes(container):
    check_predictions(SoftmaxRegressionClassifier(), container(X), Y1)
    check_predictions(SoftmaxRegressionClassifier(C=100), container(X), Y1)
    check_predictions(SoftmaxRegressionClassifier(fit_intercept=False), container(X), Y1)


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_predict_3_classes(container):
    check_predictions(SoftmaxRegressionClassifier(C=10), container(X), Y2)


def test_logistic_glmnet():
    """L2-penalised logistic regression against R's glmnet (values from scikit-learn's
    test: ``glmnet(alpha=0, lambda=1, standardize=F, thresh=1e-10)``)."""
    X = np.array([[-4, -3, -2, -1, 0, 1, 2, 3, 4], [0, 0, 1, 0, 1, 1, 1, 0, 0]]).T
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1])
    glm = SoftmaxRegressionClassifier(C=1 / 1 / y.shape[0], tol=1e-8, max_iter=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        glm.fit(X, y)
    assert_allclose(glm.intercept_, 0.89230405539, rtol=1e-5)
    assert_allclose(glm.coef_, [[0.44464569182, 0.01457563448]], rtol=1e-5)

    y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        glm.fit(X, y)
    assert_allclose(glm.intercept_, [-0.12004759652, 2.251747383e-01, -0.1051271418], rtol=1e-5)
    assert_allclose(
        glm.coef_,
        [
            [-0.38023389305, -0.01226499932],
            [-8.164030176e-05, 4.734548012e-02],
            [0.3803155334, -0.0350804808],
        ],
        rtol=1e-5,
        atol=1e-8,
    )


def test_inconsistent_input():
    rng = np.random.RandomState(0)
    X_ = rng.random_sample((5, 10))
    y_ = np.ones(X_.shape[0])
    y_[0] = 0
    clf = SoftmaxRegressionClassifier()
    with pytest.raises(ValueError, match="Found input variables with inconsistent number"):
        clf.fit(X, y_[:-1])
    with pytest.raises(ValueError, match="X has 12 features, but"):
        clf.fit(X_, y_).predict(rng.random_sample((3, 12)))


def test_write_parameters():
    clf = SoftmaxRegressionClassifier()
    clf.fit(X, Y1)
    clf.coef_[:] = 0
    clf.intercept_[:] = 0
    assert_array_almost_equal(clf.decision_function(X), 0)


def test_nan():
    Xnan = np.array(X, dtype=np.float64)
    Xnan[0, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN."):
        SoftmaxRegressionClassifier().fit(Xnan, Y1)


def test_multinomial_logistic_regression_string_inputs():
    X_ref, y = make_classification(
        n_samples=50, n_features=5, n_classes=3, n_informative=3, random_state=0
    )
    y_str = LabelEncoder().fit(["bar", "baz", "foo"]).inverse_transform(y)
    y = np.array(y) - 1
    lr = SoftmaxRegressionClassifier().fit(X_ref, y)
    lr_str = SoftmaxRegressionClassifier().fit(X_ref, y_str)
    assert_allclose(lr.coef_, lr_str.coef_)
    assert_allclose(lr.predict_proba(X_ref), lr_str.predict_proba(X_ref))
    assert sorted(lr_str.classes_) == ["bar", "baz", "foo"]


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_logistic_regression_solvers_multiclass(fit_intercept):
    X, y = make_classification(
        n_samples=20, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    params = dict(fit_intercept=fit_intercept, tol=1e-8)
    ours = SoftmaxRegressionClassifier(max_iter=200, **params).fit(X, y)
    assert ours.coef_.shape == (3, 20)
    for solver in PEERS:
        max_iter = 200 if solver == "lbfgs" else 100
        ref = LogisticRegression(solver=solver, max_iter=max_iter, **params).fit(X, y)
        assert_allclose(ours.coef_, ref.coef_, rtol=1e-3, err_msg=solver)
        if fit_intercept:
            assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-3, err_msg=solver)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_logistic_regression_solvers_multiclass_unpenalized(fit_intercept, seed):
    n_samples, n_features, n_classes = 100, 4, 3
    rng = np.random.RandomState(seed)
    X = make_low_rank_matrix(
        n_samples=n_samples,
        n_features=n_features + fit_intercept,
        effective_rank=n_features + fit_intercept,
        tail_strength=0.1,
        random_state=rng,
    )
    if fit_intercept:
        X[:, -1] = 1
    s = svd(X)[1]
    assert np.all(s > 1e-3) and np.max(s) / np.min(s) < 100
    if fit_intercept:
        X = X[:, :-1]
    coef = rng.uniform(low=1, high=3, size=n_features * n_classes).reshape(n_classes, n_features)
    intercept = rng.uniform(low=-1, high=1, size=n_classes) * fit_intercept
    raw = X @ coef.T + intercept
    proba = np.exp(raw - raw.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    y = np.array([np.argwhere(rng.multinomial(n=1, pvals=p))[0, 0] for p in proba], float)

    ours = SoftmaxRegressionClassifier(C=np.inf, tol=1e-9, max_iter=200, fit_intercept=fit_intercept)
    ours.fit(X, y)
    assert_allclose(ours.coef_.sum(axis=0), 0, atol=1e-10)
    for solver in PEERS:
        ref = LogisticRegression(
            C=np.inf, solver=solver, tol=1e-9, max_iter=200 if solver == "lbfgs" else 100,
            fit_intercept=fit_intercept, random_state=seed,
        ).fit(X, y)
        assert_allclose(ours.coef_, ref.coef_, rtol=2e-3, err_msg=solver)
        if fit_intercept:
            assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-3, err_msg=solver)


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_regression_sample_weights(seed):
    X, y = make_classification(
        n_samples=600, n_features=5, n_informative=3, n_classes=2, n_redundant=0,
        random_state=seed,
    )
    rng = np.random.RandomState(seed)
    sw = np.ones(y.shape[0])
    sw[:200] = rng.randint(0, 5, size=200)
    X_repeated = np.repeat(X, sw.astype(int), axis=0)
    y_repeated = np.repeat(y, sw.astype(int), axis=0)
    kw = {"fit_intercept": False, "max_iter": 1_000, "tol": 1e-8}
    weighted = SoftmaxRegressionClassifier(**kw).fit(X, y, sample_weight=sw)
    repeated = SoftmaxRegressionClassifier(**kw).fit(X_repeated, y_repeated)
    assert_allclose(weighted.coef_, repeated.coef_, atol=1e-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_regression_solver_class_weights(seed):
    X, y = make_classification(
        n_samples=300, n_features=5, n_informative=3, n_classes=2, random_state=seed
    )
    kw = {"fit_intercept": False, "max_iter": 100_000, "tol": 1e-8}
    cw = SoftmaxRegressionClassifier(class_weight={0: 1, 1: 2}, **kw).fit(X, y)
    sw = SoftmaxRegressionClassifier(**kw).fit(X, y, sample_weight=y + 1)
    assert_allclose(cw.coef_, sw.coef_, atol=1e-6)


def _class_weight_dictionary(y):
    classes = np.unique(y)
    return dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y)))


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_logistic_regression_class_weights(container):
    X_iris = scale(iris.data)
    X, y = container(X_iris[45:, :]), iris.target[45:]  # 90% of class 0 removed
    weights = _class_weight_dictionary(y)
    clf1 = SoftmaxRegressionClassifier(class_weight="balanced", max_iter=2000).fit(X, y)
    clf2 = SoftmaxRegressionClassifier(class_weight=weights, max_iter=2000).fit(X, y)
    assert len(clf1.classes_) == 3
    assert_allclose(clf1.coef_, clf2.coef_, rtol=1e-4)
    sw = np.ones(X.shape[0])
    for c in clf1.classes_:
        sw[y == c] *= weights[c]
    clf3 = SoftmaxRegressionClassifier(max_iter=2000).fit(X, y, sample_weight=sw)
    assert_allclose(clf3.coef_, clf2.coef_, rtol=1e-4)

    X, y = X_iris[45:100, :], iris.target[45:100]  # binary: class 2 removed too
    weights = _class_weight_dictionary(y)
    clf1 = SoftmaxRegressionClassifier(class_weight="balanced", max_iter=1000).fit(X, y)
    clf2 = SoftmaxRegressionClassifier(class_weight=weights, max_iter=1000).fit(X, y)
    assert_array_almost_equal(clf1.coef_, clf2.coef_, decimal=6)


@pytest.mark.parametrize("seed", SEEDS)
def test_logreg_predict_proba_multinomial(seed):
    X, y = make_classification(
        n_samples=10, n_features=20, random_state=seed, n_classes=3, n_informative=10
    )
    # the cross-entropy of the softmax is lower than one-vs-rest's
    multi = SoftmaxRegressionClassifier().fit(X, y)
    multi_loss = log_loss(y, multi.predict_proba(X))
    ovr = OneVsRestClassifier(LogisticRegression()).fit(X, y)
    assert log_loss(y, ovr.predict_proba(X)) > multi_loss
    # and lower than the normalised sigmoids of the same logits
    sigmoids = 1 / (1 + np.exp(-multi.decision_function(X)))
    assert log_loss(y, sigmoids / sigmoids.sum(axis=1, keepdims=True)) > multi_loss


@pytest.mark.parametrize("max_iter", np.arange(1, 5))
def test_max_iter(max_iter):
    X, y_bin = iris.data, iris.target.copy()
    y_bin[y_bin == 2] = 0
    lr = SoftmaxRegressionClassifier(max_iter=max_iter, tol=1e-15)
    with pytest.warns(ConvergenceWarning, match="L-BFGS did not converge"):
        lr.fit(X, y_bin)
    assert lr.n_iter_[0] == max_iter


def test_n_iter():
    X, y = scale(iris.data), iris.target
    y_bin = y.copy()
    y_bin[y_bin == 2] = 0
    clf = SoftmaxRegressionClassifier(tol=1e-2, C=1.0).fit(X, y_bin)
    assert clf.n_iter_.shape == (1,)
    # one optimisation problem for all classes at once
    clf.fit(X, y)
    assert clf.n_iter_.shape == (1,)
    assert clf.n_iter_.shape == LogisticRegression(tol=1e-2).fit(X, y).n_iter_.shape


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("warm_start", (True, False))
@pytest.mark.parametrize("fit_intercept", (True, False))
def test_warm_start(seed, warm_start, fit_intercept):
    # a one-iteration second fit on the same data is almost the first fit with warm
    # start, and quite different without
    X, y = iris.data, iris.target
    clf = SoftmaxRegressionClassifier(tol=1e-4, warm_start=warm_start, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        coef_1 = clf.coef_
        clf.max_iter = 1
        clf.fit(X, y)
    cum_diff = np.sum(np.abs(coef_1 - clf.coef_))
    if warm_start:
        assert 2.0 > cum_diff
    else:
        assert cum_diff > 2.0


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_dtype_match(fit_intercept):
    X_32, y_32 = np.array(X).astype(np.float32), np.array(Y1).astype(np.float32)
    X_64, y_64 = np.array(X).astype(np.float64), np.array(Y1).astype(np.float64)
    solver_tol = 5e-4
    templ = SoftmaxRegressionClassifier(tol=solver_tol, fit_intercept=fit_intercept)
    lr_32 = clone(templ).fit(X_32, y_32)
    assert lr_32.coef_.dtype == np.float32
    lr_32_sparse = clone(templ).fit(sp.csr_matrix(X_32), y_32)
    assert lr_32_sparse.coef_.dtype == np.float32
    lr_64 = clone(templ).fit(X_64, y_64)
    assert lr_64.coef_.dtype == np.float64
    lr_64_sparse = clone(templ).fit(sp.csr_matrix(X_64), y_64)
    assert lr_64_sparse.coef_.dtype == np.float64
    atol = 2 * 1.72 * solver_tol  # scikit-learn's bound from the Hessian of this data
    assert_allclose(lr_32.coef_, lr_64.coef_.astype(np.float32), atol=atol)
    assert_allclose(lr_32.coef_, lr_32_sparse.coef_, atol=atol)
    assert_allclose(lr_64.coef_, lr_64_sparse.coef_, atol=atol)


@pytest.mark.parametrize("seed", SEEDS)
def test_warm_start_converge_LR(seed):
    rng = np.random.RandomState(seed)
    X = np.concatenate((rng.randn(100, 2) + [1, 1], rng.randn(100, 2)))
    y = np.array([1] * 100 + [-1] * 100)
    no_ws = SoftmaxRegressionClassifier(warm_start=False, tol=1e-6)
    ws = SoftmaxRegressionClassifier(warm_start=True, tol=1e-6)
    no_ws_loss = log_loss(y, no_ws.fit(X, y).predict_proba(X))
    for _ in range(5):
        ws.fit(X, y)
    assert_allclose(no_ws_loss, log_loss(y, ws.predict_proba(X)), rtol=1e-5)


def test_c_inf_no_warning():
    X, y = make_classification(n_samples=100, n_redundant=0, random_state=42)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        SoftmaxRegressionClassifier(C=np.inf).fit(X, y)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_multinomial_identifiability_on_iris(fit_intercept):
    # the penalised optimum has zero column sums over the classes
    target = iris.target_names[iris.target]
    clf = SoftmaxRegressionClassifier(C=len(iris.data), fit_intercept=fit_intercept)
    clf.fit(scale(iris.data), target)
    assert_allclose(clf.coef_.sum(axis=0), 0, atol=1e-10)
    if fit_intercept:
        assert clf.intercept_.sum(axis=0) == pytest.approx(0, abs=1e-11)


@pytest.mark.parametrize("class_weight", [{0: 1.0, 1: 10.0, 2: 1.0}, "balanced"])
def test_sample_weight_not_modified(class_weight):
    X, y = load_iris(return_X_y=True)
    W = np.ones(len(X))
    W[: len(X) // 2] = 2
    expected = W.copy()
    SoftmaxRegressionClassifier(class_weight=class_weight, max_iter=200).fit(X, y, sample_weight=W)
    assert_allclose(expected, W)


def test_large_sparse_matrix():
    # int64 indices are accepted
    X = sp.random(20, 10, density=0.3, format="csr", random_state=42)
    for attr in ["indices", "indptr"]:
        setattr(X, attr, getattr(X, attr).astype("int64"))
    y = np.random.RandomState(42).randint(2, size=X.shape[0])
    ours = SoftmaxRegressionClassifier().fit(X, y)
    ref = LogisticRegression(tol=1e-10).fit(X, y)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)


def test_single_feature():
    X = np.array([[0.5, 0.65, 1.1, 1.25, 0.8, 0.54, 0.95, 0.7]]).T
    y = np.array([1, 1, 0, 0, 1, 1, 0, 1])
    ours = SoftmaxRegressionClassifier(fit_intercept=True).fit(X, y)
    ref = LogisticRegression(solver="newton-cg", tol=1e-10).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-4)


def test_zero_max_iter():
    # the state right after initialisation, before the first step
    X, y = load_iris(return_X_y=True)
    y = y == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxRegressionClassifier(max_iter=0).fit(X, y)
    assert clf.n_iter_ == 0
    assert_allclose(clf.coef_, np.zeros_like(clf.coef_))
    assert_allclose(
        clf.decision_function(X), np.full(shape=X.shape[0], fill_value=clf.intercept_)
    )
    assert_allclose(clf.predict_proba(X), np.full(shape=(X.shape[0], 2), fill_value=0.5))
    assert clf.score(X, y) < 0.7
