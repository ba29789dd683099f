"""The shared driver: parameters, weights, convergence, blocks, warm start, verbosity."""

import re

import numpy as np
import pytest
from conftest import TIGHT
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

import skmultinomial._driver as driver
from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

ESTIMATORS = [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params",
    [
        {"C": 0},
        {"C": -1.0},
        {"tol": -1e-4},
        {"max_iter": -1},
        {"max_iter": 2.5},
        {"class_weight": "equal"},
        {"fit_intercept": "yes"},
        {"warm_start": None},
    ],
)
def test_bad_hyper_parameters_raise_invalid_parameter_error(Estimator, params, wine):
    X, y = wine
    with pytest.raises(InvalidParameterError, match=f"'{next(iter(params))}' parameter"):
        Estimator(**params).fit(X, y)


@pytest.mark.parametrize(
    "params", [{"pos_weight": "auto"}, {"threshold": 1.5}, {"pos_weight": -1.0}, {"threshold": 0}]
)
def test_bad_sigmoid_parameters_raise_invalid_parameter_error(params, wine):
    X, y = wine
    with pytest.raises(InvalidParameterError):
        SigmoidMultiLabelClassifier(**params).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_weighted_equals_repeated_data(Estimator, wine):
    X, y = wine
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, size=y.size)
    kw = {"class_weight": "balanced", **TIGHT}
    weighted = Estimator(**kw).fit(X, y, sample_weight=counts)
    repeated = Estimator(**kw).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_blocked_evaluation_equals_one_block(Estimator, wine, monkeypatch):
    X, y = wine
    one_block = Estimator(**TIGHT).fit(X, y)
    monkeypatch.setattr(driver, "_BLOCK_ELEMENTS", 7 * 3)  # 7 rows a block, last one short
    monkeypatch.setattr(driver, "_MIN_BLOCK_ROWS", 1)
    blocked = Estimator(**TIGHT).fit(X, y)
    np.testing.assert_allclose(blocked.coef_, one_block.coef_, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("tol", [1e-2, 1e-4, 1e-6])
def test_tol_means_what_it_means_for_logistic_regression(wine, cancer, tol):
    # On standardised data the stopping gradient is the gradient in W of the objective
    # divided by C * sum(s), as for LogisticRegression: similar iterations, similar gap.
    for X, y in (wine, cancer):
        optimum = SoftmaxRegressionClassifier(tol=1e-12, max_iter=10_000).fit(X, y)
        ours = SoftmaxRegressionClassifier(tol=tol).fit(X, y)
        ref = LogisticRegression(tol=tol).fit(X, y)
        assert abs(ours.n_iter_ - ref.n_iter_[0]) <= max(3, 0.2 * ref.n_iter_[0])
        f_opt = _objective(optimum, X, y)
        assert _objective(ours, X, y) - f_opt <= 5 * (_objective(ref, X, y) - f_opt) + 1e-9


def _objective(clf, X, y):
    log_proba = clf.predict_log_proba(X)[np.arange(y.size), np.searchsorted(clf.classes_, y)]
    return -log_proba.sum() + 0.5 * np.sum(clf.coef_**2)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_not_converged_warns_and_names_max_iter(Estimator, wine):
    X, y = wine
    with pytest.warns(ConvergenceWarning, match=re.escape("Increase max_iter (now 3)")):
        clf = Estimator(max_iter=3).fit(X, y)
    assert np.max(clf.n_iter_) == 3


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_continues_from_previous_solution(Estimator, wine):
    X, y = wine
    cold = Estimator(**TIGHT).fit(X, y)
    clf = Estimator(warm_start=True, **TIGHT).fit(X, y)
    clf.fit(X, y)
    assert np.max(clf.n_iter_) <= 2
    np.testing.assert_allclose(clf.coef_, cold.coef_, rtol=1e-5, atol=1e-6)
    # a different C starts from the old optimum and reaches the new one
    clf.set_params(C=0.1).fit(X, y)
    np.testing.assert_allclose(
        clf.coef_, Estimator(C=0.1, **TIGHT).fit(X, y).coef_, rtol=1e-5, atol=1e-6
    )


def test_verbose_prints_objective_and_gradient_per_iteration(wine, capsys):
    X, y = wine
    clf = SoftmaxRegressionClassifier(verbose=1).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if " iter " in ln]
    assert len(lines) == clf.n_iter_
    values = [float(re.search(r"objective (\S+)", ln).group(1)) for ln in lines]
    assert all(b <= a for a, b in zip(values, values[1:]))  # L-BFGS never goes up
    assert "max|grad|" in lines[-1]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sample_weight_errors(Estimator, wine):
    X, y = wine
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        Estimator().fit(X, y, sample_weight=np.r_[-1.0, np.ones(y.size - 1)])
    with pytest.raises(ValueError, match="at least one non-zero"):
        Estimator().fit(X, y, sample_weight=np.zeros(y.size))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        Estimator().fit(X, y, sample_weight=np.ones(y.size - 1))
    with pytest.raises(ValueError, match="Input sample_weight contains NaN"):
        Estimator().fit(X, y, sample_weight=np.full(y.size, np.nan))


def test_class_weights_that_remove_every_sample_are_rejected(wine):
    X, y = wine
    with pytest.raises(ValueError, match="sum to zero"):
        SoftmaxRegressionClassifier(class_weight={0: 0, 1: 0, 2: 0}).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inconsistent_lengths_and_non_finite_X(Estimator, wine):
    X, y = wine
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Estimator().fit(X, y[:-1])
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        Estimator().fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        Estimator().fit(X_inf, y)
    clf = Estimator().fit(X, y)
    with pytest.raises(ValueError, match="expecting 13 features"):
        clf.predict(X[:, :5])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_single_class_is_rejected(Estimator, wine):
    X, _ = wine
    with pytest.raises(ValueError, match="at least 2 classes.*only one class: 'a'"):
        Estimator().fit(X, np.full(X.shape[0], "a"))


def test_loss_curve_starts_at_log_k_decreases_and_ends_at_the_fitted_objective(wine):
    X, y = wine
    C = 0.5
    clf = SoftmaxRegressionClassifier(C=C, **TIGHT).fit(X, y)
    curve = np.asarray(clf.loss_curve_)
    np.testing.assert_allclose(curve[0], np.log(3), rtol=1e-12)  # zeros: uniform classes
    assert np.all(np.diff(curve) <= 1e-15)  # L-BFGS only accepts decreasing steps
    assert len(curve) >= clf.n_iter_ + 1
    # the last value is the objective divided by C * n, computed here independently
    nll = -clf.predict_log_proba(X)[np.arange(y.size), y].sum()
    expected = (C * nll + 0.5 * np.sum(clf.coef_**2)) / (C * y.size)
    np.testing.assert_allclose(curve[-1], expected, rtol=1e-10)


def test_binary_softmax_loss_curve_is_one_curve(cancer):
    X, y = cancer
    clf = SoftmaxRegressionClassifier().fit(X, y)
    assert np.ndim(clf.loss_curve_) == 1
    np.testing.assert_allclose(clf.loss_curve_[0], np.log(2), rtol=1e-12)


def test_sigmoid_loss_curve_has_one_curve_per_label(wine):
    X, y = wine
    Y = np.eye(3, dtype=int)[y]
    clf = SigmoidMultiLabelClassifier().fit(X, Y)
    assert len(clf.loss_curve_) == 3
    for curve, n_iter in zip(clf.loss_curve_, clf.n_iter_):
        np.testing.assert_allclose(curve[0], np.log(2), rtol=1e-12)
        assert len(curve) >= n_iter + 1 and curve[-1] < curve[0]


def test_verbose_line_has_iteration_objective_gradient_and_time(wine, capsys):
    X, y = wine
    SoftmaxRegressionClassifier(verbose=1).fit(X, y)
    line = [ln for ln in capsys.readouterr().out.splitlines() if " iter " in ln][0]
    assert re.search(r"iter +1 +objective \S+ +max\|grad\| \S+ +\d+\.\d+ s$", line), line


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_block_sums_equal_one_evaluation_over_all_rows(wine, monkeypatch, n_threads, fmt):
    import scipy.sparse as sp

    from skmultinomial._loss import SOFTMAX, chunk_loss_grad

    X, y = wine
    X = sp.csr_matrix(X) if fmt == "csr" else X
    rng = np.random.default_rng(0)
    W, b, s = rng.normal(size=(3, X.shape[1])), rng.normal(size=3), rng.random(y.size)
    monkeypatch.setattr(driver, "_BLOCK_ELEMENTS", 3 * 10)
    monkeypatch.setattr(driver, "_MIN_BLOCK_ROWS", 1)
    with driver.BlockEvaluator(X, y, s, 3, n_threads=n_threads) as evaluator:
        assert len(evaluator.blocks) == 18
        blocked = evaluator(W, b, None, SOFTMAX)
        again = evaluator(W, b, None, SOFTMAX)  # reused buffers leave no trace
    whole = chunk_loss_grad(W, b, X, y, s, SOFTMAX)
    for part, reference, repeat in zip(blocked, whole, again):
        np.testing.assert_allclose(part, reference, rtol=1e-12)
        np.testing.assert_array_equal(part, repeat)
