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
covariance as for the fit.
"""

import numpy as np
import scipy.sparse as sp
from scipy.stats import norm
from sklearn.utils.validation import check_is_fitted

from ._objective import L2Penalty

__all__ = ["InferenceMixin", "coefficient_covariance", "separated", "summary_table"]


class InferenceMixin:
    """``summary()`` and ``cov_params_`` for the estimators (see the module docstring).

    The estimator provides the hooks ``_inference_groups`` (the fitted and target
    distributions of each group) and ``_inference_coefficients`` (what the table shows).
    """

    def summary(self, alpha=0.05):
        """Coefficients with standard errors, z, p-values and confidence intervals.

        Needs ``cov_type`` set when fitting (the covariance is computed from the
        training data, see ``cov_params_``). Sample weights count as frequency weights.
        For penalised fits (finite ``C``) the standard errors are those of the
        penalised estimator (sandwich ``A^-1 H A^-1``) and the intervals are centred on
        coefficients shrunk towards zero: they are not the intervals of the unpenalised
        maximum-likelihood estimate. Intervals and p-values use the normal
        distribution, as statsmodels' ``Logit`` and ``MNLogit`` do.

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
        if not hasattr(self, "cov_params_"):
            raise ValueError(
                f"summary() needs the covariance of the coefficients, computed at fit time "
                f"from the training data: set {type(self).__name__}(cov_type='nonrobust') "
                "(or 'robust') and fit again."
            )
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{j}" for j in range(self.n_features_in_)]
        terms = [*map(str, names), *(["intercept"] if self.fit_intercept else [])]
        coef, cov, outputs, output_name = self._inference_coefficients()
        return summary_table(coef, cov, outputs, terms, alpha, output_name)

    def _terms(self):
        """float64 ``[coef_, intercept_]`` per output: the terms of the covariance."""
        full = np.column_stack([self.coef_, self.intercept_]).astype(np.float64)
        return full if self.fit_intercept else full[:, :-1]

    def _covariance(self, X, problem, coef, intercept):
        """``cov_params_``: one covariance per group of the fit (``_inference.py``)."""
        blocks = []
        for g, Q, T, s, free, output_map in self._inference_groups(X, problem, coef, intercept):
            if np.isinf(self.C) and separated(Q, T, s):
                name = problem.group_name(g)
                raise ValueError(
                    f"The {'classes' if name is None else 'samples of ' + name} are perfectly "
                    "separated by the features (the fit classifies every training sample "
                    "correctly), so the maximum-likelihood estimate does not exist and has "
                    "no standard errors. Fit with a finite C for penalised (sandwich) "
                    "standard errors."
                )
            penalty = L2Penalty.hessian(output_map, X.shape[1], self.fit_intercept)
            blocks.append(
                coefficient_covariance(
                    X,
                    Q[:, free],
                    (Q - T)[:, free],
                    s,
                    penalty,
                    self.C,
                    self.fit_intercept,
                    self.cov_type,
                )
            )
        return blocks[0] if self._single_problem else np.stack(blocks)

    def _inference_groups(self, X, problem, coef, intercept):
        """Per group of the fit, ``(g, Q, T, s, free, output_map)`` at ``(coef, intercept)``.

        ``Q`` and ``T`` (n_samples, n_values) are the fitted and target distributions of
        the group's values (classes, or a label's absence and presence), ``s`` the
        weights of the rows; ``free`` the values whose parameters ``summary`` reports and
        ``output_map`` the map from those parameters to the group's logits (see
        ``L2Penalty.hessian``).
        """
        raise NotImplementedError

    def _inference_coefficients(self):
        """``(coef, cov, outputs, output_name)`` of the summary table."""
        raise NotImplementedError


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


def coefficient_covariance(X, Q, G, s, penalty, C, fit_intercept, cov_type):
    """Covariance of the coefficients of ``m`` free outputs, ordered output by output.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    Q : ndarray of shape (n_samples, m)
        Fitted probabilities of the free outputs.
    G : ndarray of shape (n_samples, m)
        Fitted probabilities minus targets, ``q - t``, of the free outputs.
    s : ndarray of shape (n_samples,)
        Frequency weights of the samples (with class weights, if any).
    penalty : ndarray of shape (m * n_terms, m * n_terms)
        The penalty's Hessian over the free parameters (``L2Penalty.hessian``).
    C : float
        Inverse penalty strength; ``np.inf`` for none.
    fit_intercept : bool
    cov_type : {"nonrobust", "robust"}

    Returns
    -------
    cov : ndarray of shape (m * (n_features + fit_intercept),) * 2
        Rows and columns ordered as (output 0: features..., intercept; output 1: ...).
    """
    m = Q.shape[1]
    s = s.astype(np.float64)
    H = _blocks(
        X,
        fit_intercept,
        [[s * ((a == b) * Q[:, a] - Q[:, a] * Q[:, b]) for b in range(m)] for a in range(m)],
    )
    A = H if np.isinf(C) else H + penalty / C
    A_inv = _checked_inverse(A, X, s, fit_intercept, np.isinf(C))
    if cov_type == "robust":
        middle = _blocks(
            X, fit_intercept, [[s * G[:, a] * G[:, b] for b in range(m)] for a in range(m)]
        )
    elif np.isinf(C):
        return A_inv
    else:
        middle = H
    cov = A_inv @ middle @ A_inv
    return (cov + cov.T) / 2


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


def summary_table(coef, cov, outputs, terms, alpha, output_name):
    """The pandas DataFrame of ``summary()``: one row per (output, term).

    ``coef`` is (m, n_terms), ``cov`` the covariance of ``coef.ravel()``.
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("summary() returns a pandas DataFrame: pip install pandas.") from exc
    estimate = coef.ravel()
    std_err = np.sqrt(np.diag(cov))
    z = estimate / std_err
    half_width = norm.ppf(1 - alpha / 2) * std_err
    index = pd.MultiIndex.from_product([list(outputs), list(terms)], names=[output_name, "term"])
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
