"""Average marginal effects of the features on the probabilities, and their Jacobian.

For a group with free parameters ``theta`` (``InferenceMixin._parametrisation``) and
probabilities ``P`` of its values over rows ``x``, the marginal effect of feature ``j`` on
the probability of value ``k`` is ``dP_k / dx_j``, averaged over the rows:

- a softmax over K classes, logits ``z_c = x~ . theta_c`` for the free classes and 0 for
  the reference (the probabilities of the zero-sum coefficients): with ``beta_c`` the
  feature part of ``theta_c`` (0 for the reference), ``dP_k/dx_j = P_k (beta_kj -
  sum_c P_c beta_cj)``;
- one logit ``q = expit(x~ . theta)``: ``dq/dx_j = q (1 - q) w_j`` for the present value,
  its negative for the absent one.

The Jacobian of the averages with respect to ``theta`` is written out (not taken by
finite differences), for the delta method's ``J cov(theta) J^T``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ._loss import log_softmax

__all__ = ["average_margins"]


def _rows_with_one(X, fit_intercept):
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    return np.column_stack([X, np.ones(X.shape[0])]) if fit_intercept else X


def average_margins(X, theta, free, output_map, fit_intercept):
    """Average marginal effects over the rows of X and their Jacobian.

    Returns ``(effect, jacobian)``: ``effect`` (n_values, n_features) and ``jacobian``
    (n_values, n_features, m, n_terms), the derivatives of ``effect`` with respect to
    ``theta`` (m, n_terms).
    """
    X_tilde = _rows_with_one(X, fit_intercept)
    n_rows, n_features = X_tilde.shape[0], X.shape[1]
    if output_map.shape[0] == 1:
        return _one_logit(X_tilde, theta, n_features, n_rows)
    n_classes = output_map.shape[0]
    beta = np.zeros((n_classes, n_features))
    beta[free] = theta[:, :n_features]
    logits = np.zeros((n_rows, n_classes))
    logits[:, free] = X_tilde @ theta.T
    P = np.exp(log_softmax(logits))
    E = beta[None, :, :] - (P @ beta)[:, None, :]  # (rows, classes, features)
    effect = np.einsum("ik,ikj->kj", P, E) / n_rows
    Pf = P[:, free]  # the free classes' probabilities
    # d P_ik / d theta_cl = P_ik (delta_kc - P_ic) x~_il; differentiate P_k E_kj:
    first = np.einsum("il,ik,ikj->kjl", X_tilde, P, E)  # with delta_kc
    second = np.einsum("il,ik,ikj,ic->kjcl", X_tilde, P, E, Pf, optimize=True)
    third = np.einsum("il,ik,ic,icj->kjcl", X_tilde, P, Pf, E[:, free], optimize=True)
    jacobian = -(second + third)
    for c_index, c in enumerate(free):
        jacobian[c, :, c_index, :] += first[c]
    same = np.einsum("ik,ic->kc", P, Pf)  # the terms in delta_jl (l a feature)
    for c_index, c in enumerate(free):
        rate = -same[:, c_index]
        rate[c] += P[:, c].sum()
        for j in range(n_features):
            jacobian[:, j, c_index, j] += rate
    return effect, jacobian / n_rows


def _one_logit(X_tilde, theta, n_features, n_rows):
    w = theta[0, :n_features]
    q = expit(X_tilde @ theta[0])
    slope = q * (1 - q)
    present = slope.sum() * w / n_rows
    curvature = slope * (1 - 2 * q)
    jac = np.outer(w, curvature @ X_tilde) / n_rows  # (features, terms)
    jac[np.arange(n_features), np.arange(n_features)] += slope.sum() / n_rows
    effect = np.vstack([-present, present])
    jacobian = np.stack([-jac, jac])[:, :, None, :]
    return effect, jacobian
