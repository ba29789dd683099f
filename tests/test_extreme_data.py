"""Extreme but valid data: no RuntimeWarning, at most a ConvergenceWarning."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

from conftest import TIGHT
from kinds import (
    KINDS,
    _assert_only_documented_warnings,
    _fit_recording_warnings,
    _noisy_targets,
    _problem,
)


def _separable(kind):
    """Three clusters at the corners of a triangle: each class is linearly separable
    from the others (and from each other one), with a margin."""
    rng = np.random.default_rng(0)
    centres = 4 * np.array([[1.0, 0.0], [-0.5, 0.87], [-0.5, -0.87]])
    y = np.repeat(np.arange(3), 100)
    X = np.column_stack(
        [centres[y] + 0.5 * rng.standard_normal((300, 2)), rng.standard_normal((300, 2))]
    )
    if kind == "sigmoid-multilabel":
        return SigmoidMultiLabelClassifier, X, np.column_stack([y == 0, y == 1, y != 1]) * 1
    Estimator, T = _problem(kind, X, y)
    return Estimator, X, T


@pytest.mark.parametrize("C", [1e10, np.inf], ids=["C=1e10", "C=inf"])
@pytest.mark.parametrize("kind", KINDS)
def test_separable_data_fit_finite_coefficients_that_classify_every_sample(kind, C):
    Estimator, X, T = _separable(kind)
    clf, caught = _fit_recording_warnings(Estimator(C=C), X, T)
    _assert_only_documented_warnings(caught)
    if np.isinf(C):  # documented: the unpenalised fit of separable data says so
        assert any("separable from the rest" in str(w.message) for w in caught)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    np.testing.assert_array_equal(clf.predict(X), T)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(np.isfinite(clf.predict_log_proba(X)))
        proba = clf.predict_proba(X)
        assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))


@pytest.fixture(scope="module")
def noisy(noisy_multiclass):
    X, y = noisy_multiclass
    return X, np.minimum(y, 2)  # 3 classes, not separable


@pytest.mark.parametrize("C", [1.0, np.inf], ids=["C=1", "C=inf"])
@pytest.mark.parametrize("kind", KINDS)
def test_constant_and_duplicated_columns_fit_without_runtime_warnings(kind, C, noisy):
    X, y = noisy
    Estimator, T = _noisy_targets(kind, X, y)
    n = X.shape[0]
    X_extra = np.column_stack([X, np.full(n, 3.0), X[:, 1], np.zeros(n), X[:, 1]])
    clf, caught = _fit_recording_warnings(Estimator(C=C, **TIGHT), X_extra, T)
    _assert_only_documented_warnings(caught)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    # the constant and all-zero columns carry nothing; the duplicates share their weight
    np.testing.assert_allclose(clf.coef_[:, [3, 5]], 0.0, atol=1e-8)
    np.testing.assert_allclose(clf.coef_[:, 4], clf.coef_[:, 1], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(clf.coef_[:, 6], clf.coef_[:, 1], rtol=1e-8, atol=1e-10)
    if np.isinf(C):  # the same likelihood as the fit without the extra columns
        reference = Estimator(C=C, **TIGHT).fit(X, T)
        np.testing.assert_allclose(
            clf.predict_proba(X_extra), reference.predict_proba(X), rtol=0, atol=1e-7
        )
        np.testing.assert_allclose(
            clf.coef_[:, 1] + clf.coef_[:, 4] + clf.coef_[:, 6],
            reference.coef_[:, 1],
            rtol=0,
            atol=1e-6,  # where each fit stopped, at tol=1e-10
        )


@pytest.mark.parametrize("Estimator", [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier])
def test_a_thousand_classes_of_three_samples_each(Estimator):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(1000), 3)
    X = rng.standard_normal((3000, 3)) + (y[:, None] % 7 - 3) * [1.0, -0.5, 0.2]
    clf, caught = _fit_recording_warnings(Estimator(), X, y)
    _assert_only_documented_warnings(caught)
    assert clf.coef_.shape == (1000, 3)
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    np.testing.assert_array_equal(clf.classes_, np.arange(1000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(X)
        log_proba = clf.predict_log_proba(X)
    assert np.all(np.isfinite(log_proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-12)


def test_a_label_never_or_always_positive_warns_and_fits_the_others_alone(noisy):
    X, y = noisy
    _, Y = _noisy_targets("sigmoid-multilabel", X, y)
    n = X.shape[0]
    Y_extra = np.column_stack([Y[:, 0], np.zeros(n, int), Y[:, 1], np.ones(n, int), Y[:, 2]])
    clf, caught = _fit_recording_warnings(SigmoidMultiLabelClassifier(**TIGHT), X, Y_extra)
    _assert_only_documented_warnings(caught)
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    assert any("Label 1 is positive in none" in m for m in messages), messages
    assert any("Label 3 is positive in all" in m for m in messages), messages
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    proba = clf.predict_proba(X)
    assert np.all(proba[:, 1] < 0.01) and np.all(proba[:, 3] > 0.99)
    assert np.all(clf.predict(X)[:, 1] == 0) and np.all(clf.predict(X)[:, 3] == 1)
    # the labels are independent problems: the others fit as without the constant ones
    reference = SigmoidMultiLabelClassifier(**TIGHT).fit(X, Y)
    np.testing.assert_allclose(clf.coef_[[0, 2, 4]], reference.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("max_iter", [0, 1])
@pytest.mark.parametrize("kind", KINDS)
def test_max_iter_zero_and_one_give_finite_coefficients_and_a_convergence_warning(
    kind, max_iter, wine
):
    X, y = wine
    Estimator, T = _problem(kind, X, y)
    clf, caught = _fit_recording_warnings(Estimator(max_iter=max_iter), X, T)
    _assert_only_documented_warnings(caught)
    assert any(
        issubclass(w.category, ConvergenceWarning)
        and f"max_iter (now {max_iter})" in str(w.message)
        for w in caught
    ), [str(w.message) for w in caught]
    assert np.max(clf.n_iter_) == max_iter
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    assert np.all(np.isfinite(clf.predict_log_proba(X)))


SCALES = {
    "1e-300": 1e-300,
    "1e300": 1e300,
    "mixed": np.array([1e300, 1.0, 1e-300]),
}


@pytest.mark.parametrize("scale", list(SCALES))
@pytest.mark.parametrize("kind", KINDS)
def test_features_at_scales_1e300_and_1e_300_fit_as_unscaled_ones(kind, scale, noisy):
    # Unpenalised, scaling a feature by c scales its coefficient by 1/c and leaves
    # every probability unchanged: the fit on scaled data must predict as the fit on X.
    X, y = noisy
    Estimator, T = _noisy_targets(kind, X, y)
    factor = SCALES[scale]
    X_scaled = X * factor
    reference = Estimator(C=np.inf, **TIGHT).fit(X, T)
    clf, caught = _fit_recording_warnings(Estimator(C=np.inf, **TIGHT), X_scaled, T)
    _assert_only_documented_warnings(caught)
    assert not caught, [str(w.message) for w in caught]  # converges, not separated
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(X_scaled)
        log_proba = clf.predict_log_proba(X_scaled)
    assert np.all(np.isfinite(proba)) and np.all(np.isfinite(log_proba))
    # Both fits stop where an iteration lowers the objective by less than its rounding
    # (before max|grad| <= 1e-10 on some labels): 1.9e-8 and 2.8e-8 from the exact
    # optimum's probabilities (Newton's) on the multi-label case at NumPy 1.23, 4.6e-8
    # apart there; bitwise the same where the scaling's roundings are exact (NumPy 2.4).
    np.testing.assert_allclose(proba, reference.predict_proba(X), rtol=0, atol=1e-7)
    np.testing.assert_array_equal(clf.predict(X_scaled), reference.predict(X))
