"""What a fit tells its user about how it ended, one warning for each kind of trouble.

- groups (labels) that did not converge: one ``ConvergenceWarning`` for all of them, of
  a fit (:meth:`FitDiagnosticsMixin._warn_not_converged`) or of the points of a
  cross-validation path (:func:`warn_path_not_converged`), with the same advice;
- unpenalised fits of separated data, whose maximum-likelihood estimate does not exist;
- a warm start that already passes ``tol`` on a changed problem, and so takes no step.
"""

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._validation import warn_at_caller

__all__ = ["FitDiagnosticsMixin", "separation_message", "warn_path_not_converged"]


def _advice(results, max_iter, tol):
    """What to do about fits that did not converge, from why the first of them stopped."""
    if any(result.stop == "max_iter" for result in results):
        return (
            f"Increase max_iter (now {max_iter}). Fits that need many iterations are "
            "usually weakly penalised fits of (nearly) separable data, where the optimum is "
            "far out: a smaller C converges sooner."
        )
    return (
        "The line search could not lower the objective further: the fit is at the limit "
        f"of floating-point precision before reaching tol={tol:g}. A larger tol avoids this."
    )


def warn_path_not_converged(problem, Cs, failed, n_folds, tol, max_iter):
    """One ConvergenceWarning for the points of a cross-validation path that did not converge.

    ``failed`` lists ``(fold, C index, group, GroupResult)``.
    """
    if not failed:
        return

    def point(fold, k, g, result):
        name = problem.group_name(g)
        return f"fold {fold}, C={Cs[k]:g}" + ("" if name is None else f", {name}")

    shown = "; ".join(point(*item) for item in failed[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    total = n_folds * len(Cs) * len(problem.groups)
    results = [item[3] for item in failed]
    warn_at_caller(
        f"L-BFGS did not converge at {len(failed)} of {total} points of the "
        f"cross-validation path ({shown}{more}): {results[0].message}. Their scores, and so "
        f"the choice of C, may be off. {_advice(results, max_iter, tol)}",
        ConvergenceWarning,
    )


def separation_message(names, with_cov_type):
    """What a fit of separated outputs (``names``) at ``C=np.inf`` says: a warning, or
    with ``cov_type`` the error."""
    shown_names = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    subject = f"The {shown_names} {'is' if len(names) == 1 else 'are'} separable"
    text = (
        f"{subject} from the rest by the features (quasi-complete separation): without a "
        "penalty (C=np.inf) the maximum-likelihood estimate does not exist, and the "
        "coefficients are wherever the fit stopped (they grow without bound with a "
        "tighter tol). Use a finite C"
    )
    if with_cov_type:
        return text + " for penalised (sandwich) standard errors: these have none."
    return text + "."


class FitDiagnosticsMixin:
    """The warnings of a fit; the estimator provides ``tol``, ``C`` and ``max_iter``."""

    def _warn_not_converged(self, problem, failed):
        """One ConvergenceWarning for all the groups (labels) that did not converge."""
        g, result = failed[0]
        name = problem.group_name(g)
        where = "" if name is None else f" for {name}"
        if len(failed) > 1:
            shown = ", ".join(problem.group_name(g) for g, _ in failed[:5])
            more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
            plural = {"label": "labels", "class": "classes"}[problem.group_kind]
            where = f" for {len(failed)} of {len(problem.groups)} {plural} ({shown}{more})"
        advice = _advice([result], self.max_iter, self.tol)
        warn_at_caller(
            f"L-BFGS did not converge{where} after {result.n_iter} iteration(s) "
            f"({result.message}). {advice}",
            ConvergenceWarning,
        )

    def _warn_if_warm_start_stalled(self, problem, results, previous, dtype):
        """A warm start that already passes tol on a changed problem takes no step."""
        rtol = 1e-12 if dtype == np.float64 else 1e-5  # the same problem: the same value
        stalled = [
            g
            for g, (result, before) in enumerate(zip(results, previous))
            if result.n_iter == 0
            and result.stop == "gradient"
            and not np.isclose(result.curve[0], before, rtol=rtol, atol=0.0)
        ]
        if not stalled:
            return
        name = problem.group_name(stalled[0])
        where = (
            ""
            if name is None
            else f" for {name}" + (f" and {len(stalled) - 1} more" if len(stalled) > 1 else "")
        )
        warn_at_caller(
            f"warm_start: the previous coefficients already pass tol={self.tol:g} on this "
            f"fit (C={self.C:g}){where}, so no iteration ran and they were kept. Where "
            "the objective is flat (a weak penalty, nearly separable data) they can be far "
            "from this fit's optimum: along a path of C, lower tol (e.g. 1e-8), or fit "
            "without warm_start.",
            ConvergenceWarning,
        )
