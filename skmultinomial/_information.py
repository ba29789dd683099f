"""Derivatives of the log-likelihood summed over rows, Newton's method, covariances.

For ``m`` free outputs of a group (the classes other than the reference class of a
softmax, or one logit) with probabilities ``Q`` (n_rows, m), the per-row Hessian of the
negative log-likelihood with respect to output ``a``'s and ``b``'s logits is
``delta_ab q_a - q_a q_b`` and the score is ``g = q - t``. With ``X~ = [X, 1]``
(intercept last) and frequency weights ``s``::

    H_ab = sum_i s_i (delta_ab q_ia - q_ia q_ib) x~_i x~_i^T       (the observed information)
    B_ab = sum_i s_i g_ia g_ib x~_i x~_i^T                          (outer product of scores)
    B    = sum_c u_c u_c^T,  u_c = sum_{i in cluster c} s_i g_i (x) x~_i      (clustered)

:func:`group_sums` computes them over the rows of one row source (an in-memory X, or
one chunk of a Dask array on its worker): they are sums over rows, so a distributed fit
adds them over its chunks, the same seam as the loss. The objective in units of the
log-likelihood is ``NLL + theta.P.theta / (2 C)``, ``P`` the penalty's Hessian
(``_objective.L2Penalty``), with Hessian ``A = H + P / C``. :func:`newton` takes
Newton steps on it; :func:`covariance` gives

    unpenalised, "nonrobust":   A^-1                 (the inverse observed Fisher information)
    penalised,   "nonrobust":   A^-1 H A^-1           (the sandwich of the penalised estimator)
    "robust":                   A^-1 B A^-1           (heteroskedasticity-consistent, HC0)
    "cluster":                  c A^-1 B_cl A^-1,  c = G/(G-1) (N-1)/(N-k)

the last with statsmodels' default small-sample correction (G clusters, N the sum of
the weights, k the coefficients). :func:`separable_outputs` finds, by a linear program,
the classes or labels that the features separate (quasi-completely) from the rest.
"""

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

__all__ = ["covariance", "group_sums", "newton", "separable_outputs"]


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


def _scores(X, G, fit_intercept):
    """Per-row scores ``g_ia x~_i`` as (n_rows, m * n_terms), output by output."""
    sparse, parts = sp.issparse(X), []
    for a in range(G.shape[1]):
        g = G[:, a : a + 1]
        parts.append(X.multiply(g) if sparse else np.asarray(X, dtype=np.float64) * g)
        if fit_intercept:
            parts.append(sp.csr_matrix(g) if sparse else g)
    return sp.hstack(parts).tocsr() if sparse else np.hstack(parts)


def group_sums(source, g, theta, output_map, free, distributions, fit_intercept, want):
    """Sums over a row source's rows for group ``g`` at parameters ``theta``.

    Parameters
    ----------
    source : InMemoryRows
        Rows (``source.X``), encoded targets and weights (``source.T``, ``source.s``) and,
        for ``want="cluster"``, cluster codes (``source.clusters``).
    g : int
        The group.
    theta : ndarray of shape (m, n_terms)
        The group's free parameters; its logits are ``X~ (output_map @ theta)^T``.
    output_map, free
        See ``InferenceMixin._parametrisation``.
    distributions : callable
        ``distributions(Z, T, s, g) -> (log_Q, T_g, s_g)``, the estimator's hook.
    fit_intercept : bool
    want : {"value", "information", "robust", "cluster"}
        What to sum: the negative log-likelihood only; with its score and Hessian; or
        with the outer products of the scores too (per row, or per cluster).

    Returns
    -------
    sums : dict
        ``nll`` (float), and as asked ``score`` (m, n_terms), ``H``, ``B`` (square
        ``m n_terms``), ``clusters`` (n_clusters, m n_terms) and ``weight`` (sum of s).
    """
    X, n_features = source.X, source.X.shape[1]
    W = output_map @ theta[:, :n_features]
    b = output_map @ theta[:, n_features] if fit_intercept else 0.0
    Z = np.asarray(X @ W.T.astype(np.float64)) + b
    log_Q, T, s = distributions(Z, source.T, source.s, g)
    s = s.astype(np.float64)
    nll = -float(s @ np.sum(np.where(T > 0, T * log_Q, 0.0), axis=1))
    out = {"nll": nll, "weight": float(s.sum())}
    if want == "value":
        return out
    Q = np.exp(log_Q)
    G = (Q - T)[:, free]
    weighted = G * s[:, None]
    score = np.asarray(X.T @ weighted).T
    out["score"] = np.column_stack([score, weighted.sum(axis=0)]) if fit_intercept else score
    m, q = G.shape[1], Q[:, free]
    out["H"] = _blocks(
        X,
        fit_intercept,
        [[s * ((a == b) * q[:, a] - q[:, a] * q[:, b]) for b in range(m)] for a in range(m)],
    )
    if want == "robust":
        out["B"] = _blocks(
            X, fit_intercept, [[s * G[:, a] * G[:, b] for b in range(m)] for a in range(m)]
        )
    elif want == "cluster":
        codes = source.clusters
        indicator = sp.csr_matrix(
            (s, (codes, np.arange(codes.size))), shape=(source.n_clusters, codes.size)
        )
        out["clusters"] = np.asarray(indicator @ _scores(X, G, fit_intercept))
    return out


def add_group_sums(a, b):
    """Two row sets' :func:`group_sums` added."""
    return {key: a[key] + b[key] for key in a}


def newton(sums, theta, penalty, C, diagnose, max_steps=20):
    """Newton's method from ``theta`` to the optimum of ``NLL + theta.P.theta / (2 C)``.

    ``sums(theta, want)`` gives :func:`group_sums` over all rows. Steps are damped by
    backtracking until the objective decreases, and stop when the Newton step is below
    ``1e-10`` of the parameters. Returns ``(theta, A_inv, state, converged)`` at the
    final point, ``state`` the sums there (with the score and Hessian). ``diagnose()``
    gives the Gram matrix of the rows, to name the cause of a singular Hessian.
    """
    penalised = not np.isinf(C)

    def objective(theta, state):
        extra = 0.5 * theta.ravel() @ penalty @ theta.ravel() / C if penalised else 0.0
        return state["nll"] + extra

    state = sums(theta, "information")
    f, converged = objective(theta, state), False
    for step in range(max_steps + 1):
        grad = state["score"].ravel() + (penalty @ theta.ravel() / C if penalised else 0.0)
        A = state["H"] + penalty / C if penalised else state["H"]
        A_inv = _checked_inverse(A, diagnose, not penalised)
        delta = (A_inv @ grad).reshape(theta.shape)
        converged = np.max(np.abs(delta)) <= 1e-10 * (1 + np.max(np.abs(theta)))
        if converged or step == max_steps:
            break
        decrease, t = float(grad @ delta.ravel()), 1.0
        while True:  # backtracking; near the optimum the full step is taken as it is
            candidate = theta - t * delta
            f_new = objective(candidate, sums(candidate, "value"))
            if f_new <= f - 1e-4 * t * decrease or decrease <= 1e-10 * (1 + abs(f)):
                break
            t /= 2
            if t < 1e-8:
                break
        if not f_new <= f + 1e-12 * (1 + abs(f)):
            break  # no lower point along the Newton direction: precision exhausted
        theta, f = candidate, f_new
        state = sums(theta, "information")
    return theta, A_inv, state, converged


def covariance(A_inv, state, cov_type, penalised, n_coef):
    """The covariance of the free parameters (module docstring) from Newton's result."""
    if cov_type == "nonrobust":
        if not penalised:
            return A_inv
        middle = state["H"]
    elif cov_type == "robust":
        middle = state["B"]
    else:  # "cluster", with statsmodels' default correction
        u = state["clusters"]
        n_clusters, n_obs = u.shape[0], state["weight"]
        middle = u.T @ u * (n_clusters / (n_clusters - 1)) * ((n_obs - 1) / (n_obs - n_coef))
    cov = A_inv @ middle @ A_inv
    return (cov + cov.T) / 2


def _checked_inverse(A, diagnose, unpenalised):
    """``A^-1``, or a ValueError that names the likely cause when A is singular."""
    scale = np.sqrt(np.maximum(np.diag(A), np.finfo(float).tiny))
    scaled = A / np.outer(scale, scale)  # unit diagonal: the condition is the data's
    eigenvalues = np.linalg.eigvalsh(scaled)
    if eigenvalues[0] > 1e-10 * eigenvalues[-1]:
        return np.linalg.inv(scaled) / np.outer(scale, scale)
    gram = diagnose()
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


def row_gram(source, fit_intercept):
    """``X~^T X~`` over the positively weighted rows of a row source (a diagnosis)."""
    s = source.s if source.s.ndim == 1 else source.s.max(axis=1)
    return _gram(source.X, (s > 0).astype(np.float64), fit_intercept)


def separable_outputs(X, targets, weights, fit_intercept):
    """Which outputs the features separate, quasi-completely, from the other rows.

    ``targets`` (n_samples, n_outputs) hold 0/1 (1: the row belongs to the output);
    rows of zero weight are left out. Output j is separable when some ``(w, b) != 0``
    puts every row of j on one side of the hyperplane and every other row on the other
    side or on it: then the likelihood keeps rising along it and, without a penalty,
    the maximum-likelihood estimate does not exist. Decided by a linear program per
    output: maximise ``sum_i a_i . beta`` over ``|beta| <= 1`` subject to
    ``a_i . beta >= 0`` with ``a_i = +-x~_i`` (Konis, 2007), on columns scaled to
    unit magnitude. Returns the indices of the separable outputs.
    """
    used = weights > 0
    X = X[used]
    if sp.issparse(X):
        X = X.toarray()
    X = np.asarray(X, dtype=np.float64)
    scale = np.max(np.abs(X), axis=0)
    X = X / np.where(scale > 0, scale, 1.0)
    X_tilde = np.column_stack([X, np.ones(X.shape[0])]) if fit_intercept else X
    found = []
    for j in range(targets.shape[1]):
        sign = np.where(targets[used, j] > 0.5, 1.0, -1.0)
        if np.all(sign == sign[0]):
            continue  # constant: warned about elsewhere
        A = X_tilde * sign[:, None]
        result = linprog(
            -A.sum(axis=0),
            A_ub=-A,
            b_ub=np.zeros(A.shape[0]),
            bounds=[(-1, 1)] * A.shape[1],
            method="highs",
        )
        if result.status == 0 and -result.fun > 1e-7 * A.shape[0]:
            found.append(j)
    return found
