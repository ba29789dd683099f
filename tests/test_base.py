"""The shared driver: parameters, weights, convergence, blocks, warm start, verbosity."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier

from conftest import TIGHT

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


def test_verbose_ends_with_one_line_that_says_whether_the_fit_converged(wine, capsys):
    X, y = wine
    clf = SoftmaxRegressionClassifier(verbose=1).fit(X, y)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("[SoftmaxRegressionClassifier] converged (")
    assert f"after {clf.n_iter_[0]} iteration(s)" in last and "tol=1e-05" in last
    with pytest.warns(ConvergenceWarning):
        SigmoidMultiLabelClassifier(verbose=1, max_iter=2).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    ends = [line for line in lines if "converge" in line]
    assert len(ends) == 3 and all("did not converge (max_iter reached" in e for e in ends)
    assert ends[0].startswith("[SigmoidMultiLabelClassifier, class 0]"), ends[0]


@pytest.mark.parametrize(
    "make_warning",
    [
        lambda X, y: SoftmaxRegressionClassifier(max_iter=2).fit(X, y),
        lambda X, y: SigmoidMultiLabelClassifier(max_iter=2).fit(X, y),
        lambda X, y: SigmoidMultiLabelClassifier().fit(X, np.column_stack([y == 0, y < 9])),
        lambda X, y: SoftmaxRegressionClassifier(C=np.inf).fit(X, X[:, 0] > 0),
    ],
    ids=["max_iter softmax", "max_iter sigmoid", "constant label", "separated"],
)
def test_warnings_point_at_the_callers_line(make_warning, wine):
    X, y = wine
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_warning(X, y)
    assert caught, "no warning"
    for w in caught:
        assert w.filename == __file__, (w.filename, w.lineno, str(w.message))
    # so that a filter on the caller's module catches them
    with warnings.catch_warnings():
        warnings.filterwarnings("error", module="test_base")
        with pytest.raises(Warning):
            make_warning(X, y)


def test_a_warm_start_that_takes_no_step_on_a_changed_problem_warns(cancer):
    # along increasing C the previous optimum passes tol at the start: the fit would keep
    # coefficients far from a cold fit's, silently (as LogisticRegression does)
    X, y = cancer
    clf = SoftmaxRegressionClassifier(warm_start=True, C=1000.0, tol=1e-4).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="no iteration ran") as caught:
        clf.set_params(C=10_000.0).fit(X, y)
    assert clf.n_iter_ == 0 and caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X, y)  # the same problem again: its own optimum, nothing to say
    assert clf.n_iter_ == 0


def test_labels_fitted_each_at_its_own_C_equal_fits_at_that_C(wine):
    # what a cross-validated sigmoid's refit does: the labels that share a C together
    X, y = wine
    Y = np.column_stack([y == 0, y == 1, y == 2, X[:, 0] > 0]).astype(int)
    C = np.array([0.1, 10.0, 0.1, 1.0])
    clf = SigmoidMultiLabelClassifier(cov_type="nonrobust", **TIGHT)
    clf.n_features_in_ = X.shape[1]
    problem = clf._encode_targets(Y, np.ones(len(y)), None)
    make_rows = clf._row_sources(X, None)
    clf._fit_problem(X, Y, np.ones(len(y)), problem, make_rows, X.dtype, C, None)
    for label, c in enumerate(C):
        alone = SigmoidMultiLabelClassifier(C=c, cov_type="nonrobust", **TIGHT).fit(X, Y[:, label])
        np.testing.assert_allclose(clf.coef_[label], alone.coef_[0], rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(clf.cov_params_[label], alone.cov_params_[0], rtol=1e-6)
        assert clf.loss_curve_[label] == pytest.approx(alone.loss_curve_[0], rel=1e-9)
