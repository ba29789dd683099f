"""The L-BFGS driver's fast paths give the answers of the plain ones."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import TIGHT
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import skmultinomial._driver as driver
from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

ESTIMATORS = [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier]


def _raw(loader):
    if loader is load_diabetes:
        X, target = load_diabetes(return_X_y=True, scaled=False)
        return X, (target > np.median(target)).astype(int)
    return loader(return_X_y=True)


@pytest.fixture(scope="module")
def medium():
    """Large enough to be evaluated by blocks on threads: 6000 x 40, 5 classes."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 40)) * rng.uniform(0.1, 10, size=40) + rng.normal(size=40)
    Z = X @ rng.normal(scale=0.1, size=(40, 5))
    y = np.argmax(Z + rng.gumbel(size=Z.shape), axis=1)
    return X, y


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_threaded_blocks_equal_one_thread(Estimator, medium, monkeypatch):
    X, y = medium
    monkeypatch.setattr(driver, "_THREADED_WORK", np.inf)
    single = Estimator(**TIGHT).fit(X, y)
    monkeypatch.setattr(driver, "_THREADED_WORK", 0)
    monkeypatch.setattr(driver, "_n_cpus", lambda: 2)
    threaded = Estimator(**TIGHT).fit(X, y)
    np.testing.assert_allclose(threaded.coef_, single.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(threaded.intercept_, single.intercept_, rtol=1e-6, atol=1e-8)


def test_threaded_fits_are_bitwise_deterministic(medium, monkeypatch):
    X, y = medium
    monkeypatch.setattr(driver, "_THREADED_WORK", 0)
    monkeypatch.setattr(driver, "_n_cpus", lambda: 2)
    first = SoftmaxRegressionClassifier().fit(X, y)
    second = SoftmaxRegressionClassifier().fit(X, y)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    np.testing.assert_array_equal(first.intercept_, second.intercept_)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("loader", [load_iris, load_breast_cancer])
def test_preconditioned_optimum_equals_plain_optimum(Estimator, loader, monkeypatch):
    X, y = _raw(loader)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the plain fit may stop short
        monkeypatch.setattr(driver, "_PRECONDITION", False)
        plain = Estimator(tol=1e-10, max_iter=100_000).fit(X, y)
    monkeypatch.setattr(driver, "_PRECONDITION", True)
    preconditioned = Estimator(tol=1e-10, max_iter=100_000).fit(X, y)
    # The same objective in the original parameters: the preconditioned fit ends no
    # higher, within the relative-decrease stopping rule, in a fraction of the iterations.
    f_pre, f_plain = _objective(preconditioned, X, y), _objective(plain, X, y)
    assert f_pre <= f_plain * (1 + 1e-12)
    assert f_plain - f_pre <= 1e-6 * f_plain
    np.testing.assert_allclose(preconditioned.predict_proba(X), plain.predict_proba(X), atol=1e-3)
    assert np.max(preconditioned.n_iter_) < np.max(plain.n_iter_)


def _objective(clf, X, y):
    """C * NLL + ||W||^2 / 2 with C = 1, computed here from the decision function."""
    Z = clf.decision_function(X)
    if isinstance(clf, SigmoidMultiLabelClassifier) or Z.ndim == 1:
        T = y if Z.ndim == 1 else (y[:, None] == clf.classes_).astype(float)
        nll = np.sum(np.logaddexp(0, Z) - T * Z)
    else:
        log_proba = clf.predict_log_proba(X)
        nll = -log_proba[np.arange(y.size), np.searchsorted(clf.classes_, y)].sum()
    return nll + 0.5 * np.sum(clf.coef_**2)


@pytest.mark.parametrize(
    "loader", [load_breast_cancer, load_wine, load_digits, load_iris, load_diabetes]
)
def test_raw_data_converges_with_default_settings(loader):
    X, y = _raw(loader)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SoftmaxRegressionClassifier().fit(X, y)
        SigmoidMultiLabelClassifier().fit(X, y)


@pytest.mark.parametrize("loader", [load_breast_cancer, load_digits, load_iris])
def test_raw_data_needs_fewer_iterations_than_logistic_regression(loader):
    # Iteration counts, not times: deterministic, so a test can hold them.
    X, y = _raw(loader)
    ours = SoftmaxRegressionClassifier(tol=1e-8, max_iter=100_000).fit(X, y)
    with threadpool_limits(1):  # LogisticRegression at full BLAS threads is slow here
        ref = LogisticRegression(tol=1e-8, max_iter=100_000).fit(X, y)
    assert ours.n_iter_ <= 0.5 * ref.n_iter_[0]


def test_sparse_with_implicit_centring_equals_dense(medium):
    X, y = medium
    X = np.where(np.abs(X) < 1.0, 0.0, X)
    dense = SoftmaxRegressionClassifier(**TIGHT).fit(X, y)
    for fmt in ("csr", "csc"):
        sparse = SoftmaxRegressionClassifier(**TIGHT).fit(sp.csr_matrix(X).asformat(fmt), y)
        np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X), atol=1e-7)
