"""The objective object against the formula of its docstring, finite differences and its maps."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.special import logsumexp

from skmultinomial import _tuning
from skmultinomial._loss import SIGMOID, SOFTMAX
from skmultinomial._objective import (
    L2Penalty,
    Objective,
    Problem,
    fold_term_weights,
    smooth,
)
from skmultinomial._rows import InMemoryRows


def _data(kind, seed=0, n=120, p=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * [1.0, 10.0, 0.1, 3.0][:p] + [0.0, 5.0, -1.0, 2.0][:p]
    s = rng.uniform(0.2, 2.0, size=n)
    if kind == "softmax-labels":
        return X, Problem(rng.integers(0, 3, size=n), s, SOFTMAX, 3)
    if kind == "softmax-soft":
        return X, Problem(rng.dirichlet(np.ones(3), size=n), s, SOFTMAX, 3)
    Y = rng.random((n, 3))  # soft per-label targets, weights per entry
    return X, Problem(
        Y, s[:, None] * rng.uniform(0.5, 1.5, size=(n, 3)), SIGMOID, 3, "label", [0, 1, 2]
    )


def _objective(X, problem, C, fit_intercept, precondition=True):
    width = len(problem.groups[0])
    rows = InMemoryRows(X, problem.T, problem.sample_weight, width)
    with _tuning.override(precondition=precondition):
        return Objective(rows, problem, C=C, fit_intercept=fit_intercept)


def _by_the_formula(X, problem, g, W, b, C):
    """``(C * sum_i s_i loss_i + ||W||^2 / 2) / (C * S)``, written out independently."""
    Z = X @ W.T + b
    T, s = problem.T, problem.sample_weight
    if problem.link is SOFTMAX:
        T = np.eye(3)[T] if T.ndim == 1 else T
        loss = logsumexp(Z, axis=1) - np.sum(T * Z, axis=1)
    else:
        t, s = T[:, g], s[:, g]
        loss = np.logaddexp(0, Z[:, 0]) - t * Z[:, 0]
    if np.isinf(C):
        return np.sum(s * loss) / s.sum()
    return (C * np.sum(s * loss) + 0.5 * np.sum(W**2)) / (C * s.sum())


KINDS = ["softmax-labels", "softmax-soft", "sigmoid-soft-weighted"]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.3, np.inf])
@pytest.mark.parametrize("kind", KINDS)
def test_value_is_the_formula_of_the_docstring(kind, C, fit_intercept):
    X, problem = _data(kind)
    objective = _objective(X, problem, C, fit_intercept)
    rng = np.random.default_rng(1)
    for g in range(objective.n_groups):
        x = rng.normal(size=objective.start(None)[g].size)
        f, _ = objective.loss_gradient({g: x})[g]
        W, b = objective.preconditioner.to_model(*objective.unpack(x))
        b = np.zeros(W.shape[0]) if b is None else b
        np.testing.assert_allclose(f, _by_the_formula(X, problem, g, W, b, C), rtol=1e-12)


@pytest.mark.parametrize("precondition", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_equals_finite_differences(kind, precondition):
    X, problem = _data(kind)
    objective = _objective(X, problem, 0.5, True, precondition)
    rng = np.random.default_rng(2)
    for g in range(objective.n_groups):
        x = rng.normal(size=objective.start(None)[g].size) * 0.3

        def f(x, g=g):
            return objective.loss_gradient({g: x})[g][0]

        grad = objective.loss_gradient({g: x})[g][1]
        step = 1e-6 * np.eye(x.size)
        central = np.array([(f(x + h) - f(x - h)) / 2e-6 for h in step])
        np.testing.assert_allclose(grad, central, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_preconditioning_changes_the_parameters_not_the_function(kind):
    X, problem = _data(kind)
    plain = _objective(X, problem, 2.0, True, precondition=False)
    preconditioned = _objective(X, problem, 2.0, True)
    assert not np.allclose(preconditioned.preconditioner.d, 1.0)
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(plain.width, X.shape[1])), rng.normal(size=plain.width)
    for g in range(plain.n_groups):
        x_plain = np.concatenate([W.ravel(), b])
        tW, tb = preconditioned.preconditioner.to_theta(W, b)
        x_pre = np.concatenate([tW.ravel(), tb])
        f_plain = plain.loss_gradient({g: x_plain})[g][0]
        f_pre = preconditioned.loss_gradient({g: x_pre})[g][0]
        np.testing.assert_allclose(f_pre, f_plain, rtol=1e-13)
        coef, intercept = preconditioned.coefficients(x_pre)
        np.testing.assert_allclose(coef, preconditioned.link.canonical(W, b)[0], rtol=1e-12)


def test_a_batch_of_groups_equals_each_group_alone():
    X, problem = _data("sigmoid-soft-weighted")
    objective = _objective(X, problem, 1.0, True)
    rng = np.random.default_rng(4)
    xs = {g: rng.normal(size=objective.start(None)[g].size) for g in (0, 2)}
    together = objective.loss_gradient(xs)
    for g, x in xs.items():
        alone = objective.loss_gradient({g: x})[g]
        np.testing.assert_allclose(together[g][0], alone[0], rtol=1e-14)
        np.testing.assert_allclose(together[g][1], alone[1], rtol=1e-13, atol=1e-15)


def test_float64_arithmetic_of_a_float32_objective_is_the_same_function():
    X, problem = _data("softmax-labels")
    objective = _objective(X.astype(np.float32), problem, 1.0, True)
    in64 = objective.in_float64()
    x = np.random.default_rng(5).normal(size=objective.start(None)[0].size)
    f32, f64 = objective.loss_gradient({0: x})[0][0], in64.loss_gradient({0: x})[0][0]
    assert (objective.dtype, in64.dtype) == (np.float32, np.float64)
    np.testing.assert_allclose(f32, f64, rtol=1e-6)
    assert f32 != f64


def test_weights_that_sum_to_zero_name_the_group():
    X, problem = _data("sigmoid-soft-weighted")
    s = problem.sample_weight.copy()
    s[:, 1] = 0.0
    with pytest.raises(ValueError, match="sum to zero for label 'b'"):
        Problem(problem.T, s, SIGMOID, 3, "label", ["a", "b", "c"])


def test_term_weights_fold_into_row_weights_and_targets():
    rng = np.random.default_rng(6)
    T = rng.dirichlet(np.ones(4), size=50)
    cw = np.array([0.5, 2.0, 1.0, 3.0])
    log_q = np.log(rng.dirichlet(np.ones(4), size=50))
    folded, v = fold_term_weights(T, cw)
    np.testing.assert_allclose(folded.sum(axis=1), 1.0)
    np.testing.assert_allclose(  # sum_k cw_k t_k (-log q_k) = v sum_k t'_k (-log q_k)
        v * np.sum(folded * -log_q, axis=1), np.sum(cw * T * -log_q, axis=1), rtol=1e-13
    )
    zero = np.array([[1.0, 0, 0, 0]])
    kept, v0 = fold_term_weights(zero, np.array([0.0, 1, 1, 1]))
    assert v0[0] == 0 and np.array_equal(kept, zero)  # no weight: targets kept


def test_label_smoothing_mixes_with_the_uniform_distribution():
    T = np.eye(3)[[0, 2]]
    np.testing.assert_allclose(smooth(T, 0.3, 3), 0.7 * T + 0.1)
    assert smooth(T, 0.0, 3) is T


@pytest.mark.parametrize("n_classes", [3, 4])
def test_penalty_hessian_through_an_output_map_is_the_hessian_of_the_penalty(n_classes):
    # theta: the free classes' differences from class 0; W their zero-sum representative
    free = np.arange(1, n_classes)
    output_map = (np.eye(n_classes) - 1.0 / n_classes)[:, free]
    n_features = 2
    m, n_terms = len(free), n_features + 1

    def penalty(theta):
        coef = theta.reshape(m, n_terms)[:, :n_features]
        return L2Penalty.value(output_map @ coef)

    def gradient(theta):
        return approx_fprime(theta, penalty, 1e-6)

    theta = np.random.default_rng(7).normal(size=m * n_terms)
    numeric = np.array(
        [approx_fprime(theta, lambda t, j=j: gradient(t)[j], 1e-5) for j in range(theta.size)]
    )
    expected = L2Penalty.hessian(output_map, n_features, fit_intercept=True)
    np.testing.assert_allclose(numeric, expected, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_the_objective_at_another_C_is_the_objective_built_at_that_C(kind):
    X, problem = _data(kind)
    path = _objective(X, problem, 0.1, True).at(7.0)
    fresh = _objective(X, problem, 7.0, True)
    x = np.random.default_rng(8).normal(size=fresh.start(None)[0].size)
    for g in range(fresh.n_groups):
        f_path, grad_path = path.loss_gradient({g: x})[g]
        f_fresh, grad_fresh = fresh.loss_gradient({g: x})[g]
        assert f_path == f_fresh and np.array_equal(grad_path, grad_fresh)
    np.testing.assert_array_equal(path.preconditioner.d, fresh.preconditioner.d)


@pytest.mark.parametrize("C", [0.01, 100.0])
@pytest.mark.parametrize("kind", KINDS)
def test_gradient_at_zero_is_the_largest_gradient_entry_of_a_cold_start(kind, C):
    X, problem = _data(kind)
    first = _objective(X, problem, 1.0, True)
    first.gradient_at_zero()  # summed once, here; the copy at C maps it
    objective = first.at(C)
    zeros = objective.start(None)
    expected = [
        np.max(np.abs(objective.loss_gradient({g: zeros[g]})[g][1]))
        for g in range(objective.n_groups)
    ]
    np.testing.assert_allclose(objective.gradient_at_zero(), expected, rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_the_last_point_at_another_C_is_its_data_term_with_the_new_penalty(kind):
    # a path's warm start: the coefficients a fit ended at (softmax: their canonical
    # shift, which leaves the data term unchanged), at the next C, with no pass
    X, problem = _data(kind)
    first = _objective(X, problem, 0.1, True)
    zeros = first.start(None)
    x = [np.random.default_rng(g).normal(size=z.size) for g, z in enumerate(zeros)]
    first.loss_gradient(dict(enumerate(x)))
    ends = [first.coefficients(x[g]) for g in range(first.n_groups)]
    init = tuple(np.concatenate(part) for part in zip(*ends))
    nxt = first.at(7.0)
    starts = nxt.start(init)
    reused = nxt.at_last_point(init, starts)
    assert reused is not None
    for g, (f, grad) in enumerate(reused):
        f_pass, grad_pass = nxt.loss_gradient({g: starts[g]})[g]
        assert f == pytest.approx(f_pass, rel=1e-12)
        np.testing.assert_allclose(grad, grad_pass, rtol=1e-9, atol=1e-14)
    other = (init[0] + 1e-3, init[1])  # not where the groups were evaluated
    assert nxt.at_last_point(other, nxt.start(other)) is None
    fresh = _objective(X, problem, 7.0, True)  # no evaluation of its own yet
    assert fresh.at_last_point(init, starts) is None


@pytest.mark.parametrize("kind", KINDS)
def test_a_subset_of_rows_and_groups_is_the_problem_of_those_rows_and_groups(kind):
    X, problem = _data(kind)
    rows = np.arange(0, 120, 3)
    groups = [0, 2] if problem.link.separable else None
    part = problem.subset(rows=rows, groups=groups)
    columns = [0, 2] if groups else slice(None)
    T = problem.T[rows][:, columns] if problem.T.ndim == 2 else problem.T[rows]
    s = problem.sample_weight[rows]
    s = s[:, columns] if s.ndim == 2 else s
    np.testing.assert_array_equal(part.T, T)
    np.testing.assert_array_equal(part.sample_weight, s)
    assert part.n_outputs == (2 if groups else problem.n_outputs)
    assert [part.group_name(g) for g in range(len(part.groups))] == (
        ["label 0", "label 2"] if groups else [None]
    )
