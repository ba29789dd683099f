"""The L-BFGS solver: its phases, stopping rules, budgets and fast paths, asserted on the path."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier, _tuning
from skmultinomial._loss import SOFTMAX
from skmultinomial._objective import Objective, Problem
from skmultinomial._rows import InMemoryRows
from skmultinomial._solver import LBFGSSolver, _first_step

from conftest import TIGHT

ESTIMATORS = [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier]


def _raw(loader):
    if loader is load_diabetes:
        X, target = load_diabetes(return_X_y=True, scaled=False)
        return X, (target > np.median(target)).astype(int)
    return loader(return_X_y=True)


def _records(records, kind):
    return [facts for k, facts in records if k == kind]


@pytest.fixture(scope="module")
def medium():
    """6000 x 40, 5 classes, features of very different scales."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 40)) * rng.uniform(0.1, 10, size=40) + rng.normal(size=40)
    Z = X @ rng.normal(scale=0.1, size=(40, 5))
    y = np.argmax(Z + rng.gumbel(size=Z.shape), axis=1)
    return X, y


def _solve(X, y, C=1.0, **solver):
    problem = Problem(y, np.ones(len(y)), SOFTMAX, int(y.max()) + 1)
    with InMemoryRows(X, problem.T, problem.sample_weight, problem.n_outputs) as rows:
        objective = Objective(rows, problem, C=C, fit_intercept=True)
        return LBFGSSolver(**solver).solve(objective)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_threaded_blocks_equal_one_thread(Estimator, medium):
    X, y = medium
    with _tuning.override(threaded_work=np.inf), _tuning.trace() as single_path:
        single = Estimator(**TIGHT).fit(X, y)
    threads = {"threaded_work": 0, "max_threads": 2, "block_elements": 5 * 500}
    with _tuning.override(**threads), _tuning.trace() as threaded_path:
        threaded = Estimator(**TIGHT).fit(X, y)
    assert {r["n_threads"] for r in _records(single_path, "rows")} == {1}
    (rows,) = _records(threaded_path, "rows")
    assert rows["n_threads"] == 2 and rows["n_blocks"] >= 4 and rows["evaluations"] > 10
    np.testing.assert_allclose(threaded.coef_, single.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(threaded.intercept_, single.intercept_, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_blocked_evaluation_equals_one_block(Estimator, wine):
    X, y = wine
    with _tuning.trace() as one_path:
        one_block = Estimator(**TIGHT).fit(X, y)
    with _tuning.override(block_elements=7 * 3, min_block_rows=1), _tuning.trace() as path:
        blocked = Estimator(**TIGHT).fit(X, y)  # 7 rows a block, the last one short
    assert {r["n_blocks"] for r in _records(one_path, "rows")} == {1}
    assert min(r["n_blocks"] for r in _records(path, "rows")) >= 178 // 21
    np.testing.assert_allclose(blocked.coef_, one_block.coef_, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("loader", [load_iris, load_breast_cancer])
def test_preconditioned_optimum_equals_plain_optimum(Estimator, loader):
    X, y = _raw(loader)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the plain fit may stop short
        with _tuning.override(precondition=False):
            plain = Estimator(tol=1e-10, max_iter=100_000).fit(X, y)
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


def test_sparse_with_implicit_centring_equals_dense(medium):
    X, y = medium
    X = np.where(np.abs(X) < 1.0, 0.0, X)
    dense = SoftmaxRegressionClassifier(**TIGHT).fit(X, y)
    for fmt in ("csr", "csc"):
        sparse = SoftmaxRegressionClassifier(**TIGHT).fit(sp.csr_matrix(X).asformat(fmt), y)
        np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X), atol=1e-7)


def test_results_say_why_each_group_stopped(wine):
    X, y = wine
    (converged,) = _solve(X, y, tol=1e-4, max_iter=1000)
    assert (converged.stop, converged.converged) == ("gradient", True)
    assert converged.grad_max <= 1e-4
    # the start, each iteration, and the point inside the next one where the test passed
    assert len(converged.curve) in (converged.n_iter + 1, converged.n_iter + 2)
    (short,) = _solve(X, y, tol=1e-12, max_iter=3)
    assert (short.stop, short.converged, short.n_iter) == ("max_iter", False, 3)
    assert short.objective == short.curve[-1] < short.curve[0]


def test_max_iter_zero_evaluates_the_start_and_takes_no_step(wine):
    # scipy's L-BFGS-B takes one iteration at maxiter=0; the solver does not call it
    X, y = wine
    (result,) = _solve(X, y, tol=1e-4, max_iter=0)
    assert (result.n_iter, result.stop) == (0, "max_iter")
    assert result.curve == [pytest.approx(np.log(3))]
    assert not result.coef.any() and not result.intercept.any()


def test_a_fit_that_starts_at_its_optimum_takes_no_step(wine):
    X, y = wine
    clf = SoftmaxRegressionClassifier(warm_start=True, tol=1e-6).fit(X, y)
    coef = clf.coef_.copy()
    clf.fit(X, y)
    assert clf.n_iter_ == 0 and len(clf.loss_curve_) == 1
    np.testing.assert_allclose(clf.coef_, coef, rtol=1e-14, atol=1e-16)  # mapped back and forth


def test_float32_finish_in_float64_shares_the_max_iter_budget():
    # well separated classes: the float32 phase stops on its rounding noise and the fit
    # finishes in float64, within what is left of max_iter
    rng = np.random.default_rng(20261201)
    X = rng.standard_normal((2000, 10)).astype(np.float32)
    y = np.argmax(4 * X[:, :3] + rng.standard_normal((2000, 3)), axis=1)
    for max_iter, finished in ((10, []), (20, [0]), (1000, [0])):
        with warnings.catch_warnings(), _tuning.trace() as records:
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = SoftmaxRegressionClassifier(C=100.0, tol=1e-8, max_iter=max_iter).fit(X, y)
        (solve,) = _records(records, "solve")
        # the float32 phase stops on its noise after 16 to 19 iterations: at 10 no
        # budget is left to finish in float64; at 20 the rest of it is
        assert solve["finished_in_float64"] == finished
        assert clf.n_iter_ <= max_iter
        assert len(clf.loss_curve_) <= clf.n_iter_ + 2
    assert clf.n_iter_ < 1000 and clf.coef_.dtype == np.float32


def test_an_evaluation_of_non_finite_numbers_is_a_breakdown_not_convergence(wine, monkeypatch):
    # L-BFGS-B stops after a NaN as if the objective had stopped decreasing; the solver
    # calls it a breakdown and keeps the best point it evaluated
    X, y = wine
    calls, loss_grad = [], InMemoryRows.loss_grad

    def poisoned(self, *args):  # a fault injected at the row source
        calls.append(1)
        loss, gW, gb = loss_grad(self, *args)
        return (np.nan, gW * np.nan, gb * np.nan) if len(calls) == 8 else (loss, gW, gb)

    monkeypatch.setattr(InMemoryRows, "loss_grad", poisoned)
    (result,) = _solve(X, y, tol=1e-8, max_iter=100)
    assert (result.stop, result.converged) == ("breakdown", False)
    assert result.objective == min(v for v in result.curve if np.isfinite(v))
    assert np.all(np.isfinite(result.coef))


def _path_point(X, y, C_from, C_to, tol, relative, max_iter=10_000):
    """The fit at ``C_to`` warm-started from the optimum at ``C_from``."""
    problem = Problem(y, np.ones(len(y)), SOFTMAX, int(y.max()) + 1)
    with InMemoryRows.for_problem(X, problem) as rows:
        before = Objective(rows, problem, C=C_from, fit_intercept=True)
        (start,) = LBFGSSolver(tol=1e-12, max_iter=10_000).solve(before)
        objective = before.at(C_to)
        solver = LBFGSSolver(tol=tol, max_iter=max_iter, relative_warm_start=relative)
        with _tuning.trace() as records:
            (result,) = solver.solve(objective, (start.coef, start.intercept))
        (optimum,) = LBFGSSolver(tol=1e-12, max_iter=10_000).solve(objective)
        x_start = objective.start((start.coef, start.intercept))[0]
        g_start = np.max(np.abs(objective.loss_gradient({0: x_start})[0][1]))
        g_zero = objective.gradient_at_zero()[0]
    (solve,) = _records(records, "solve")
    return result, optimum, solve["thresholds"][0], g_start, g_zero


def test_a_warm_start_that_passes_tol_at_once_is_held_to_the_relative_test():
    # Digits at a weak penalty: from the optimum at C=100, the gradient at C=1e4 is
    # already below tol, though the optimum is far (the objective is flat there).
    X, y = load_digits(return_X_y=True)
    X, y = (X[:500] - X[:500].mean(axis=0)) / (X[:500].std(axis=0) + 1), y[:500]
    stalled, optimum, threshold, g_start, g_zero = _path_point(X, y, 100, 1e4, 1e-4, False)
    assert (stalled.n_iter, threshold) == (0, 1e-4) and g_start <= 1e-4
    held, optimum, threshold, g_start, g_zero = _path_point(X, y, 100, 1e4, 1e-4, True)
    assert threshold == pytest.approx(1e-4 * g_start / g_zero, rel=1e-12)
    assert held.converged and held.n_iter > 10 and held.grad_max <= threshold
    # the relative test reduced the objective's gap to its optimum by orders of magnitude
    assert held.objective - optimum.objective < 1e-3 * (stalled.objective - optimum.objective)


def test_a_warm_start_short_of_the_relative_test_at_max_iter_converged_if_it_passes_tol():
    # as a fit from zero at tol would have: no ConvergenceWarning for it
    X, y = load_digits(return_X_y=True)
    X, y = (X[:500] - X[:500].mean(axis=0)) / (X[:500].std(axis=0) + 1), y[:500]
    short, _, threshold, _, _ = _path_point(X, y, 100, 1e4, 1e-4, True, max_iter=3)
    assert (short.stop, short.n_iter) == ("max_iter", 3)
    assert threshold < short.grad_max <= 1e-4 and short.converged


def test_a_warm_starts_first_step_is_its_secant_estimate_of_the_newton_step():
    # gamma = s.y / y.y of the pair between warm start and guess, times |grad|; 1 (scipy's
    # unit first step) where the pair shows no positive curvature
    s, y, grad = np.array([1.0, 0.0]), np.array([4.0, 0.0]), np.array([0.3, 0.4])
    assert _first_step(s, y, grad) == pytest.approx(0.25 * 0.5, rel=1e-15)
    assert _first_step(s, -y, grad) == 1.0
    assert _first_step(s, np.zeros(2), grad) == 1.0


def test_the_relative_test_is_never_looser_than_tol(wine):
    # a warm start far from the optimum (here from C=1e-3 to C=10) keeps tol itself
    X, y = wine
    result, _, threshold, g_start, g_zero = _path_point(X, y, 1e-3, 10.0, 1e-4, True)
    assert threshold == pytest.approx(1e-4 * min(1.0, g_start / g_zero), rel=1e-12)
    assert threshold <= 1e-4 and result.converged


def test_a_guess_of_lower_objective_is_started_from_the_test_staying_at_the_warm_start():
    # along a path on nearly separable digits the extrapolation of the last two
    # solutions is closer to the next optimum than the last solution is
    X, y = load_digits(return_X_y=True)
    X, y = (X[:500] - X[:500].mean(axis=0)) / (X[:500].std(axis=0) + 1), y[:500]
    problem = Problem(y, np.ones(len(y)), SOFTMAX, 10)
    with InMemoryRows.for_problem(X, problem) as rows:
        objective = Objective(rows, problem, C=10.0, fit_intercept=True)
        points = [
            LBFGSSolver(tol=1e-10, max_iter=10_000).solve(objective.at(C))[0] for C in (10.0, 100.0)
        ]
        (p1, p2), target = points, objective.at(1000.0)
        warm = (p2.coef, p2.intercept)
        guess = (2 * p2.coef - p1.coef, 2 * p2.intercept - p1.intercept)
        runs = {}
        for name, extra in (("warm", None), ("guess", guess)):
            solver = LBFGSSolver(tol=1e-4, max_iter=10_000, relative_warm_start=True)
            (runs[name],) = solver.solve(target, warm, guess=extra)
        (optimum,) = LBFGSSolver(tol=1e-12, max_iter=10_000).solve(target)
    assert runs["guess"].curve[0] < runs["warm"].curve[0]  # started from the guess
    # measured at the warm start, loosened by the path's relative step (with a margin)
    x_warm, x_guess = target.start(warm)[0], target.start(guess)[0]
    step = np.linalg.norm(x_guess - x_warm) / np.linalg.norm(x_warm)
    ratio = runs["warm"].threshold / 1e-4
    expected = 1e-4 * min(1.0, ratio / (_tuning.SETTINGS.path_margin * step))
    assert runs["guess"].threshold == pytest.approx(expected, rel=1e-12)
    assert runs["warm"].threshold < runs["guess"].threshold < 1e-4
    assert runs["guess"].n_iter < 0.8 * runs["warm"].n_iter
    for result in runs.values():
        assert result.converged and result.objective - optimum.objective < 1e-6


def test_a_warm_start_at_max_iter_zero_reports_the_objective_of_its_start():
    # the scaled start (L-BFGS in x / scale) is evaluated where it is, not at x * scale
    X, y = load_iris(return_X_y=True)
    problem = Problem(y, np.ones(len(y)), SOFTMAX, 3)
    with InMemoryRows.for_problem(X, problem) as rows:
        objective = Objective(rows, problem, C=1.0, fit_intercept=True)
        p1, p2 = (
            LBFGSSolver(tol=1e-10, max_iter=10_000).solve(objective.at(C))[0] for C in (1, 10)
        )
        target = objective.at(100.0)
        warm = (p2.coef, p2.intercept)
        guess = (2 * p2.coef - p1.coef, 2 * p2.intercept - p1.intercept)
        solver = LBFGSSolver(tol=1e-8, max_iter=0, relative_warm_start=True)
        (result,) = solver.solve(target, warm, guess=guess)
        assert solver.states[0].scale != 1.0  # the scaled start
        x = target.start((result.coef, result.intercept))[0]
        ((f, _),) = target.loss_gradient({0: x}).values()
    assert result.n_iter == 0 and result.stop == "max_iter"
    assert result.objective == pytest.approx(f, rel=1e-12)
