"""Covariance of the fitted coefficients from the exact Hessian, and the summary table.

For ``m`` free outputs (the classes other than the reference class of a softmax, or one
sigmoid label) with probabilities ``Q`` (n_samples, m), the per-sample Hessian of the
negative log-likelihood with respect to output ``a``'s and ``b``'s logits is
``delta_ab q_a - q_a q_b`` (softmax: ``diag(q) - q q^T``; sigmoid, m = 1: ``q (1 - q)``),
and the score is ``(q - t) x``. With ``X~ = [X, 1]`` (intercept last)::

    H_ab = sum_i s_i (delta_ab q_ia - q_ia q_ib) x~_i x~_i^T       (the observed information)
    B_ab = sum_i s_i g_ia g_ib x~_i x~_i^T,   g = q - t            (the outer product of scores)

The objective of the fit (``_objective.py``), in units of the log-likelihood, is
``NLL + ||W||^2 / (2 C)``, whose Hessian is ``A = H + P / C`` with ``P`` the Hessian of
``_objective.L2Penalty`` over the free parameters (zero for intercepts). The covariance
of the coefficients is

    unpenalised, "nonrobust":   A^-1                 (the inverse observed Fisher information)
    penalised,   "nonrobust":   A^-1 H A^-1           (the sandwich of the penalised estimator)
    "robust":                   A^-1 B A^-1           (heteroskedasticity-consistent, HC0)

Sample weights are frequency weights: a weight of 2 is the row twice, for the
covariance as for the fit. The Hessian is computed anyway, so a fit with ``cov_type``
ends with Newton steps ``theta <- theta - A^-1 g`` (damped by backtracking) until the
step is below 1e-10 of the parameters: the coefficients, and the statistics computed
at them, are those of the optimum whatever ``tol`` the L-BFGS phase stopped at.
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import block_diag
from scipy.stats import norm
from sklearn.utils.validation import check_is_fitted

from . import _tuning
from ._objective import L2Penalty
from ._validation import warn_at_caller

__all__ = ["InferenceMixin", "newton", "separated", "summary_table"]


class InferenceMixin:
    """``summary()``, ``cov_params_`` and the Newton polish of a fit (module docstring).

    The estimator provides the hooks ``_group_distributions`` (a group's fitted and
    target distributions at its logits), ``_reference_index`` and ``_summary_outputs``.
    """

    #: How the outputs of the summary table are named: "class" or "label".
    _summary_output_name = "class"

    def summary(self, alpha=0.05):
        """Coefficients with standard errors, z, p-values and confidence intervals.

        Needs ``cov_type`` set when fitting: the table is the fit's own (its reference
        class, covariance type, intercept and coefficients), whatever the parameters
        were set to since. The coefficients are at the optimum: with ``cov_type`` the
        fit ends with Newton steps on the exact Hessian (see ``cov_type``). Sample
        weights count as frequency weights. For penalised fits (finite ``C``) the
        standard errors are those of the penalised estimator (sandwich
        ``A^-1 H A^-1``) and the intervals are centred on coefficients shrunk towards
        zero: they are not the intervals of the unpenalised maximum-likelihood
        estimate. Intervals and p-values use the normal distribution, as statsmodels'
        ``Logit`` and ``MNLogit`` do.

        Parameters
        ----------
        alpha : float, default=0.05
            The intervals cover ``1 - alpha``.

        Returns
        -------
        table : pandas.DataFrame
            Indexed by (class or label, term), terms the feature names (or ``x0``,
            ``x1``, ...) then ``"intercept"``; columns ``coef``, ``std_err``, ``z``,
            ``p_value``, ``ci_lower``, ``ci_upper``.
        """
        check_is_fitted(self)
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}.")
        if not hasattr(self, "_summary_"):
            raise ValueError(
                f"summary() needs the covariance of the coefficients, computed at fit time "
                f"from the training data: set {type(self).__name__}(cov_type='nonrobust') "
                "(or 'robust') and fit again."
            )
        return summary_table(*self._summary_, alpha)

    def _fit_inference(self, X, problem, coef, intercept, C):
        """Newton steps to the optimum, then the covariance, group by group (``C[g]``
        the C of group g).

        Returns ``(coef, intercept, converged)`` at the polished optimum and sets
        ``cov_params_`` and the summary's table of the fit.
        """
        n_features = X.shape[1]
        coef, intercept = coef.copy(), intercept.copy()
        covariances, estimates, outputs, converged = [], [], [], True
        for g, rows in enumerate(problem.groups):
            free, output_map = self._parametrisation(len(rows))
            W, b = coef[rows], intercept[rows]
            theta = np.column_stack([W, b]) if self.fit_intercept else W.copy()
            if len(rows) > 1:  # differences from the reference class
                theta = theta[free] - theta[self._reference_index()]
            result = newton(
                X,
                theta,
                output_map,
                free,
                lambda Z, g=g: self._group_distributions(Z, problem, g),
                L2Penalty.hessian(output_map, n_features, self.fit_intercept),
                C[g],
                self.fit_intercept,
                self.cov_type,
                subject=self._separated_subject(problem.group_name(g)),
            )
            theta, cov, group_converged = result
            converged &= group_converged
            coef[rows] = output_map @ theta[:, :n_features]
            intercept[rows] = output_map @ theta[:, n_features] if self.fit_intercept else 0.0
            names, sign = self._summary_outputs(g, free)
            covariances.append(cov)
            estimates.append(sign * theta)
            outputs += list(names)
        self.cov_params_ = covariances[0] if self._single_problem else np.stack(covariances)
        feature_names = getattr(self, "feature_names_in_", None)
        if feature_names is None:
            feature_names = [f"x{j}" for j in range(n_features)]
        terms = [*map(str, feature_names), *(["intercept"] if self.fit_intercept else [])]
        self._summary_ = (
            np.vstack(estimates),
            block_diag(*covariances),
            outputs,
            terms,
            self._summary_output_name,
        )
        return coef, intercept, converged

    def _parametrisation(self, width):
        """``(free, output_map)`` of a group of ``width`` logits (``L2Penalty.hessian``).

        A single logit is its own parameter. A softmax's parameters are the free
        classes' differences from the reference class; its logits are their zero-sum
        representative, the rows embedded and centred over the classes.
        """
        if width == 1:
            return np.array([1]), np.ones((1, 1))
        free = np.delete(np.arange(width), self._reference_index())
        return free, (np.eye(width) - 1.0 / width)[:, free]

    def _check_covariance_size(self, X, problem):
        """Refuse, before any work, a covariance too large for memory or patience."""
        width = len(problem.groups[0])
        n_coef = (width - 1 if width > 1 else 1) * (X.shape[1] + int(self.fit_intercept))
        limit = _tuning.SETTINGS.max_covariance_coefficients
        if n_coef <= limit:
            return
        gib = 8 * n_coef**2 / 2**30
        raise ValueError(
            f"cov_type={self.cov_type!r} needs the {n_coef:,} x {n_coef:,} Hessian and "
            f"covariance of {n_coef:,} coefficients{'' if width > 1 else ' per label'}: "
            f"{gib:,.1f} GiB a matrix (several are held at once) and about "
            f"{X.shape[0] * n_coef**2:.1e} multiply-adds for each, more than the limit "
            f"of {limit:,} coefficients. Fit with cov_type=None, or for inference select "
            "fewer features (e.g. sklearn.feature_selection.SelectKBest, or the terms "
            "you want to test) and fit those with cov_type."
        )

    def _distributions_at(self, X, problem, coef, intercept):
        """``(g, Q, T, s)`` of every group at ``(coef, intercept)``."""
        for g, rows in enumerate(problem.groups):
            Z = np.asarray(X @ coef[rows].T.astype(np.float64)) + intercept[rows]
            log_Q, T, s = self._group_distributions(Z, problem, g)
            yield g, np.exp(log_Q), T, s

    # --- hooks of the estimators -------------------------------------------------

    def _group_distributions(self, Z, problem, g):
        """``(log_Q, T, s)``: group g's fitted log-probabilities and targets, shapes
        (n_samples, n_values) (its classes, or a label's absence and presence), and the
        weights of the rows, at the group's logits ``Z`` (n_samples, width)."""
        raise NotImplementedError

    #: The estimator is one L-BFGS problem: ``n_iter_`` is an int, ``loss_curve_`` a
    #: list and ``cov_params_`` one matrix (else an array, a list and a matrix per group).
    _single_problem = False

    def _reference_index(self):
        """Which value of a group the summary's parameters are differences from."""
        return 0

    def _separated_subject(self, group_name):
        """What is separated, in the message: "samples", "samples for label 'a'"."""
        return "samples" if group_name is None else f"samples for {group_name}"

    def _summary_outputs(self, g, free):
        """``(names, sign)``: what group g's rows of the summary are called, and +-1."""
        raise NotImplementedError


def newton(X, theta, output_map, free, distributions, penalty, C, fit_intercept, cov_type, subject):
    """Newton's method from ``theta`` to the optimum of ``NLL + theta.P.theta / (2 C)``.

    ``theta`` (m, n_terms) are a group's free parameters, the logits ``X~ (M theta)^T``
    with ``M = output_map``; ``distributions(Z)`` gives ``(log_Q, T, s)``. Steps are
    damped by backtracking until the objective decreases, and stop when the Newton
    step is below ``1e-10`` of the parameters (at most 20). Returns ``(theta, cov,
    converged)``, the covariance of ``theta.ravel()`` at the final point.
    """
    penalised = not np.isinf(C)
    n_features = X.shape[1]

    def state(theta):
        W = output_map @ theta[:, :n_features]
        b = output_map @ theta[:, n_features] if fit_intercept else 0.0
        log_Q, T, s = distributions(np.asarray(X @ W.T) + b)
        f = -np.sum(s * np.sum(np.where(T > 0, T * log_Q, 0.0), axis=1))
        if penalised:
            f += 0.5 * theta.ravel() @ penalty @ theta.ravel() / C
        return f, np.exp(log_Q), T, s.astype(np.float64)

    f, Q, T, s = state(theta)
    if not penalised and separated(Q, T, s):
        raise ValueError(
            f"The {subject} are perfectly "
            "separated by the features (the fit classifies every training sample "
            "correctly), so the maximum-likelihood estimate does not exist and has no "
            "standard errors. Fit with a finite C for penalised (sandwich) standard errors."
        )
    converged = False
    for step in range(21):
        G = (Q - T)[:, free]
        grad = _score(X, G, s, fit_intercept).ravel()
        H = _information(X, Q[:, free], s, fit_intercept)
        A = H + penalty / C if penalised else H
        if penalised:
            grad = grad + penalty @ theta.ravel() / C
        A_inv = _checked_inverse(A, X, s, fit_intercept, not penalised)
        delta = (A_inv @ grad).reshape(theta.shape)
        converged = np.max(np.abs(delta)) <= 1e-10 * (1 + np.max(np.abs(theta)))
        if converged or step == 20:
            break
        decrease, t = float(grad @ delta.ravel()), 1.0
        while True:  # backtracking; near the optimum the full step is taken as it is
            f_new, Q_new, T_new, s_new = state(theta - t * delta)
            if f_new <= f - 1e-4 * t * decrease or decrease <= 1e-10 * (1 + abs(f)):
                break
            t /= 2
            if t < 1e-8:
                break
        if not f_new <= f + 1e-12 * (1 + abs(f)):
            break  # no lower point along the Newton direction: precision exhausted
        theta, f, Q, T, s = theta - t * delta, f_new, Q_new, T_new, s_new
    if cov_type == "robust":
        m = G.shape[1]
        middle = _blocks(
            X, fit_intercept, [[s * G[:, a] * G[:, b] for b in range(m)] for a in range(m)]
        )
    elif not penalised:
        return theta, A_inv, converged
    else:
        middle = H
    cov = A_inv @ middle @ A_inv
    return theta, (cov + cov.T) / 2, converged


def _score(X, G, s, fit_intercept):
    """``sum_i s_i g_ia x~_i``, shape (m, n_terms)."""
    weighted = G * s[:, None]
    score = np.asarray(X.T @ weighted).T
    return np.column_stack([score, weighted.sum(axis=0)]) if fit_intercept else score


def _information(X, Q, s, fit_intercept):
    """``H_ab = sum_i s_i (delta_ab q_ia - q_ia q_ib) x~_i x~_i^T`` over the m free outputs."""
    m = Q.shape[1]
    return _blocks(
        X,
        fit_intercept,
        [[s * ((a == b) * Q[:, a] - Q[:, a] * Q[:, b]) for b in range(m)] for a in range(m)],
    )


def _gram(X, w, fit_intercept, rows=4096):
    """``X~^T diag(w) X~`` for ``X~ = [X, 1]`` (or X), dense, by row blocks."""
    n_features = X.shape[1]
    size = n_features + int(fit_intercept)
    out = np.zeros((size, size))
    for lo in range(0, X.shape[0], rows):
        block, wb = X[lo : lo + rows], w[lo : lo + rows]
        if sp.issparse(block):
            out[:n_features, :n_features] += (block.T @ block.multiply(wb[:, None])).toarray()
        else:
            block = np.asarray(block, dtype=np.float64)
            out[:n_features, :n_features] += block.T @ (block * wb[:, None])
        if fit_intercept:
            column = np.asarray(block.T @ wb).ravel()
            out[:n_features, n_features] += column
            out[n_features, :n_features] += column
            out[n_features, n_features] += wb.sum()
    return out


def _blocks(X, fit_intercept, weights):
    """The matrix of blocks ``X~^T diag(weights(a, b)) X~`` over the m free outputs."""
    m = len(weights)
    size = X.shape[1] + int(fit_intercept)
    out = np.zeros((m * size, m * size))
    for a in range(m):
        for b in range(a, m):
            block = _gram(X, weights[a][b], fit_intercept)
            out[a * size : (a + 1) * size, b * size : (b + 1) * size] = block
            out[b * size : (b + 1) * size, a * size : (a + 1) * size] = block.T
    return out


def separated(Q, T, s):
    """Whether a fit of hard targets classifies every (positively weighted) sample.

    A linear model that does is a separating hyperplane: the likelihood keeps rising as
    its coefficients grow, so without a penalty the maximum-likelihood estimate (and its
    standard errors) does not exist. ``Q`` and ``T`` are (n_samples, n_classes)
    probabilities and targets; soft targets are never "separated".
    """
    hard = np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1)
    used = s > 0
    return bool(hard and np.array_equal(Q[used].argmax(axis=1), T[used].argmax(axis=1)))


def _checked_inverse(A, X, s, fit_intercept, unpenalised):
    """``A^-1``, or a ValueError that names the likely cause when A is singular."""
    scale = np.sqrt(np.maximum(np.diag(A), np.finfo(float).tiny))
    scaled = A / np.outer(scale, scale)  # unit diagonal: the condition is the data's
    eigenvalues = np.linalg.eigvalsh(scaled)
    if eigenvalues[0] > 1e-10 * eigenvalues[-1]:
        return np.linalg.inv(scaled) / np.outer(scale, scale)
    gram = _gram(X, (s > 0).astype(np.float64), fit_intercept)
    if np.linalg.matrix_rank(gram) < gram.shape[0]:
        cause = (
            "the columns of X (with the intercept) are linearly dependent: a column is "
            "constant, duplicated or a combination of others. Drop it"
        )
    elif unpenalised:
        cause = (
            "the classes are (nearly) perfectly separated by the features, so the "
            "maximum-likelihood estimate does not exist (its coefficients run off to "
            "infinity). Fit with a finite C"
        )
    else:
        cause = (
            "some probabilities are fitted as 0 or 1 to machine precision (nearly "
            "separated data with a weak penalty). Fit with a smaller C"
        )
    raise ValueError(
        "The Hessian of the objective is singular at the fitted coefficients "
        f"(smallest to largest eigenvalue {eigenvalues[0] / eigenvalues[-1]:.1e}), so "
        f"the coefficients have no finite standard errors: {cause}."
    )


def summary_table(coef, cov, outputs, terms, output_name, alpha):
    """The pandas DataFrame of ``summary()``: one row per (output, term).

    ``coef`` is (m, n_terms), ``cov`` the covariance of ``coef.ravel()``.
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("summary() returns a pandas DataFrame: pip install pandas.") from exc
    estimate = coef.ravel()
    std_err = np.sqrt(np.maximum(np.diag(cov), 0.0))
    pinned = std_err == 0  # an all-zero column under a penalty: coefficient 0, no spread
    z = np.divide(estimate, std_err, out=np.full_like(estimate, np.nan), where=~pinned)
    half_width = norm.ppf(1 - alpha / 2) * std_err
    index = pd.MultiIndex.from_product([list(outputs), list(terms)], names=[output_name, "term"])
    if pinned.any():
        pinned_terms = sorted({terms[i % len(terms)] for i in np.flatnonzero(pinned)})
        more = " ..." if len(pinned_terms) > 10 else ""
        warn_at_caller(
            f"std_err is 0 for the terms {pinned_terms[:10]}{more}: "
            "their columns are all zero in the training data, so the penalty holds their "
            "coefficients at exactly 0; their z and p_value are NaN (undefined). Drop such "
            "columns (e.g. sklearn.feature_selection.VarianceThreshold) before inference.",
            UserWarning,
        )
    return pd.DataFrame(
        {
            "coef": estimate,
            "std_err": std_err,
            "z": z,
            "p_value": 2 * norm.sf(np.abs(z)),
            "ci_lower": estimate - half_width,
            "ci_upper": estimate + half_width,
        },
        index=index,
    )
