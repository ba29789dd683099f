"""Covariance of the fitted coefficients from the exact Hessian, and the summary table.

For ``m`` free outputs (the classes other than the reference class of a softmax, or one
sigmoid label) with probabilities ``Q`` (n_samples, m), the per-sample Hessian of the
negative log-likelihood with respect to output ``a``'s and ``b``'s logits is
``delta_ab q_a - q_a q_b`` (softmax: ``diag(q) - q q^T``; sigmoid, m = 1: ``q (1 - q)``),
and the score is ``(q - t) x``. With ``X~ = [X, 1]`` (intercept last)::

    H_ab = sum_i s_i (delta_ab q_ia - q_ia q_ib) x~_i x~_i^T       (the observed information)
    B_ab = sum_i s_i g_ia g_ib x~_i x~_i^T,   g = q - t            (the outer product of scores)

The objective of the fit, in units of the log-likelihood, is ``NLL + ||W||^2 / (2 C)``,
whose Hessian is ``A = H + P / C`` (P the penalty's Hessian, zero for intercepts). The
covariance of the coefficients is

    unpenalised, "nonrobust":   A^-1                 (the inverse observed Fisher information)
    penalised,   "nonrobust":   A^-1 H A^-1           (the sandwich of the penalised estimator)
    "robust":                   A^-1 B A^-1           (heteroskedasticity-consistent, HC0)

Sample weights are frequency weights: a weight of 2 is the row twice, for the
covariance as for the fit.
"""

import numpy as np
import scipy.sparse as sp
from scipy.stats import norm

__all__ = ["check_not_separated", "coefficient_covariance", "separated", "summary_table"]


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
    penalty : ndarray of shape (m, m)
        The penalty's Hessian over the outputs, for each feature (intercepts are free).
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
    A = H
    if not np.isinf(C):
        per_output = np.ones(X.shape[1] + int(fit_intercept))
        if fit_intercept:
            per_output[-1] = 0.0
        A = H + np.kron(penalty, np.diag(per_output)) / C
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


def check_not_separated(Q, T, s, what="classes"):
    """Raise a ValueError if ``separated(Q, T, s)``: no standard errors exist."""
    if separated(Q, T, s):
        raise ValueError(
            f"The {what} are perfectly separated by the features (the fit classifies "
            "every training sample correctly), so the maximum-likelihood estimate does not "
            "exist and has no standard errors. Fit with a finite C for penalised "
            "(sandwich) standard errors."
        )


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
