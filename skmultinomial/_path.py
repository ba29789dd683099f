"""The regularisation path of one cross-validation fold: fitted along Cs, scored held out.

:func:`fit_fold` fits the training rows of a fold at each C in turn, each fit starting
from the solution at the previous C, and scores every point of the path on the fold's
held-out rows. It knows nothing of estimators: targets come encoded as a
:class:`~skmultinomial._objective.Problem`, and a score is a callable.

Accuracy along the path. The gradient test of a fit, ``max|grad f| <= tol`` with ``f``
the objective divided by ``C * S``, is loose for a warm start at a larger C: there the
gradient at the previous solution is ``(1/C_prev - 1/C) W / S``, small however far the
optimum has moved where the objective is flat (a weak penalty, nearly separable
classes), and the fit would stop where it started. Every warm-started point is held to
the relative test of the solver (``_solver.py``): it stops when its gradient is
``tol * min(1, g_start / g_zero)``, reduced by at least the factor a cold fit at ``tol``
reduces its own by (``g_zero``, at zero coefficients), from a start that is closer.
The first point of the path starts cold, at zero, and is an ordinary fit at ``tol``.

Where the path has two points already, their secant in log C is extrapolated to the
next C (coefficients grow about linearly in log C where the penalty weakens on
separable directions), and the fit starts there instead when that point's objective is
lower: on nearly separable digits this halves the iterations at the largest Cs. The
relative test stays measured at the previous solution, loosened by the length of the
path's step against the coefficients (the start is off by about that step, not by the
coefficients' distance from zero), and the secant pair between the two starts gives
L-BFGS's first step its length (both in ``_solver.py``). The warm start costs no pass
over the rows: the data term does not depend on C, and the previous fit's last
evaluation was at that point (``Objective.at_last_point``).

:class:`HeldOutLikelihood` is the default score: minus the mean negative
log-likelihood of each group (the softmax's classes together, each sigmoid label
alone) on the held-out rows, with the targets as given (no smoothing, no class weights)
and the sample weights, computed by the same loss as the fit, in log space.
"""

import dataclasses

import numpy as np

from . import _tuning
from ._objective import Objective
from ._rows import InMemoryRows
from ._solver import LBFGSSolver

__all__ = ["FoldPath", "HeldOutLikelihood", "fit_fold"]


@dataclasses.dataclass
class FoldPath:
    """The path of one fold.

    ``coefs`` has shape (n_Cs, n_outputs, n_features + fit_intercept) (the intercept
    last), ``scores`` and ``n_iter`` shape (n_Cs, n_groups); ``failed`` lists
    ``(C index, group, GroupResult)`` of the points that did not converge.
    """

    coefs: np.ndarray
    scores: np.ndarray
    n_iter: np.ndarray
    failed: list


def fit_fold(X, problem, Cs, score, *, fit_intercept, tol, max_iter, verbose=0, label=""):
    """Fit ``problem`` (the training rows of X) along ``Cs``, warm-started; score each point.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_train, n_features)
        The training rows, validated.
    problem : Problem
        Their encoded targets and weights.
    Cs : ndarray of shape (n_Cs,)
        The path, fitted in this order.
    score : callable
        ``score(coef, intercept, C)`` of a point (float64 arrays, as ``coef_`` and
        ``intercept_``), an array of one score per group.
    fit_intercept, tol, max_iter, verbose
        As the estimators'.
    label : str, default=""
        What verbose lines begin with.

    Returns
    -------
    FoldPath
    """
    n_groups = len(problem.groups)
    coefs, scores = [], np.empty((len(Cs), n_groups))
    n_iter = np.empty((len(Cs), n_groups), dtype=np.int32)
    failed, points, objective = [], [], None
    # one BLAS thread for the scores and moments too, as the fits run: a second thread
    # wakes up for every small product, and waits for a busy CPU
    with InMemoryRows.for_problem(X, problem) as rows, _tuning.blas_single_threaded():
        for k, C in enumerate(Cs):
            C = float(C)
            if objective is None:
                objective = Objective(rows, problem, C=C, fit_intercept=fit_intercept)
            else:
                objective = objective.at(C)
            solver = LBFGSSolver(
                tol=tol,
                max_iter=max_iter,
                verbose=verbose,
                label=f"{label}, C={C:g}",
                relative_warm_start=True,
            )
            init = points[-1][1:] if points else None
            results = solver.solve(objective, init, guess=_extrapolated(points, C))
            coef = np.vstack([r.coef for r in results])
            intercept = np.concatenate([r.intercept for r in results])
            points = [*points[-1:], (C, coef, intercept)]
            coefs.append(np.column_stack([coef, intercept]) if fit_intercept else coef)
            scores[k] = score(coef, intercept, C)
            n_iter[k] = [r.n_iter for r in results]
            failed += [(k, g, r) for g, r in enumerate(results) if not r.converged]
    return FoldPath(np.stack(coefs), scores, n_iter, failed)


def _extrapolated(points, C):
    """The secant of the last two points ``(C, coef, intercept)`` in log C, at ``C``; None
    where there are not two, or C does not continue their direction (by up to twice
    their step)."""
    if len(points) < 2 or not np.all(np.isfinite([points[0][0], points[1][0], C])):
        return None
    (C1, W1, b1), (C2, W2, b2) = points
    step = np.log(C2 / C1)
    ratio = np.log(C / C2) / step if step != 0 else 0.0
    if not 0 < ratio <= 2:
        return None
    return W2 + ratio * (W2 - W1), b2 + ratio * (b2 - b1)


class HeldOutLikelihood:
    """The default score of a path point: minus each group's mean negative log-likelihood
    on held-out rows (module docstring). A context manager around its evaluations.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_held_out, n_features)
        The held-out rows.
    problem : Problem
        The targets as given of all rows, weighted by the sample weights alone.
    rows : ndarray of int of shape (n_held_out,)
        Which of the problem's rows are held out.
    """

    def __init__(self, X, problem, rows):
        self.link, self.groups = problem.link, problem.groups
        self.dtype = X.dtype
        T, s = problem.T[rows], problem.sample_weight[rows]
        self.total = float(s.sum(dtype=np.float64))
        if not self.total > 0:
            raise ValueError(
                f"The sample weights of the {len(rows)} held-out samples of a fold sum to "
                "zero: there is nothing to score them by. Use folds whose held-out samples "
                "carry weight."
            )
        self.rows = InMemoryRows(X, T, s, problem.n_outputs)

    def __enter__(self):
        self.rows.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.rows.__exit__(*exc_info)

    def __call__(self, coef, intercept, C):
        loss = self.rows.loss_grad(
            coef.astype(self.dtype), intercept.astype(self.dtype), None, self.link
        )[0]
        if self.link.separable:  # one sum per output
            per_group = [np.sum(loss[outputs]) for outputs in self.groups]
        else:
            per_group = [loss]
        return -np.asarray(per_group, dtype=np.float64) / self.total
