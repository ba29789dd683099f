"""The objective of a fit, in one object: the one statement of the formula.

Both estimators minimise, for each separately fitted group ``g`` of outputs (the K
classes of a softmax, its single logit for two classes, or one sigmoid label)::

    C * sum_i s_ig * loss_ig(W, b)  +  1/2 * ||W||_F^2              (b is not penalised)

- ``loss_ig`` is the negative log-likelihood of row ``i`` (``_loss.py``): the softmax
  cross-entropy ``logsumexp(z_i) - sum_k t_ik z_ik``, or for a sigmoid label
  ``log(1 + e^z_il) - t_il z_il``, with ``z = X W^T + b`` and ``t_i`` the target
  distribution of row ``i`` (one-hot for labels, given for soft targets, smoothed by
  :func:`smooth`).
- ``s_ig`` is the sample weight times the class weights. A weight on each term of the
  cross-entropy (a class weight ``cw_k`` on ``t_ik (-log q_ik)``, or a sigmoid's
  weights of its positive and negative terms) is folded into a row weight and a
  reweighted target distribution by :func:`fold_term_weights`: the same function.
- ``C = np.inf`` drops the penalty (:class:`L2Penalty`).

L-BFGS sees that objective divided by ``C * S_g``, ``S_g = sum_i s_ig``::

    f_g = sum_i s_ig loss_ig / S_g  +  ||W||^2 / (2 C S_g)

as scikit-learn's ``LogisticRegression(solver="lbfgs")`` does, so that ``tol`` keeps its
meaning and weighted data equals repeated data at any tolerance; and in the
preconditioned parameters of :class:`Preconditioner`, which leave the optimum unchanged.
The data term is summed over the rows by a row source (``_rows.py``): in memory by
blocks and threads, or on the chunks of a Dask array.
"""

import copy
import dataclasses

import numpy as np

from . import _tuning
from ._loss import aligned_column_major
from ._validation import shown

__all__ = ["L2Penalty", "Objective", "Preconditioner", "Problem", "fold_term_weights", "smooth"]


def _max_abs(a):
    return float(np.max(np.abs(a), initial=0.0))


def _joined(join, parts):
    """``join(parts)``, or the one part itself: a single group (every step of a small
    fit) is not copied (stacking one group took 11 of the 62 us around a digits
    evaluation)."""
    return parts[0] if len(parts) == 1 else join(parts)


def smooth(T, eps, n_values):
    """Label smoothing: ``(1 - eps) T + eps / n_values`` (T itself when eps is 0)."""
    return T if eps == 0 else (1 - eps) * T + eps / n_values


def fold_term_weights(T, term_weights):
    """A weight per term of the cross-entropy, as a row weight and new targets.

    ``sum_k w_k t_k (-log q_k) = v sum_k t'_k (-log q_k)`` with ``v = sum_k w_k t_k`` and
    ``t'_k = w_k t_k / v``: exactly the objective of the replicated data. ``T`` holds
    distributions along its last axis; ``term_weights`` broadcasts against it. Returns
    ``(T', v)``; rows with ``v = 0`` (no weight at all) keep their targets.
    """
    weighted = T * term_weights
    v = weighted.sum(axis=-1)
    return np.divide(weighted, v[..., None], out=T.copy(), where=v[..., None] > 0), v


@dataclasses.dataclass
class Problem:
    """The encoded targets of a fit: what the data term of the objective needs.

    Parameters
    ----------
    T : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Class indices (softmax), or target probabilities of each output.
    sample_weight : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        ``s``: weights of the rows, or (sigmoid) of each row and output.
    link : {SOFTMAX, SIGMOID}
        The likelihood (``_loss.py``).
    n_outputs : int
        Number of logits.
    group_kind : {"label", "class"} or None
        What one separately fitted group is, in messages; None for a single group.
    group_labels : list
        The label (or class) of each group, in messages.
    totals : array-like of shape (n_groups,), default=None
        ``S_g`` when ``T`` and ``sample_weight`` are not here (they are on the workers of
        a distributed fit); by default computed from ``sample_weight``.

    The targets and weights are stored once, column-major and aligned, the layout the
    in-memory row source reads (``_rows.py``); their shapes are as given.
    """

    T: np.ndarray
    sample_weight: np.ndarray
    link: object
    n_outputs: int
    group_kind: str | None = None
    group_labels: list = dataclasses.field(default_factory=lambda: [None])
    totals: object = None

    def __post_init__(self):
        if self.T is not None:
            self.T = aligned_column_major(self.T)
            self.sample_weight = aligned_column_major(self.sample_weight)
        n = self.n_outputs
        self.groups = [np.array([j]) for j in range(n)] if self.link.separable else [np.arange(n)]
        totals = self.weight_totals() if self.sample_weight is not None else self.totals
        for g, total in enumerate(totals):
            if not total > 0:  # checked here, before any work on X
                name = self.group_name(g)
                raise ValueError(
                    "The sample weights, multiplied by the class weights, sum to zero"
                    f"{'' if name is None else ' for ' + name}: there is nothing to fit. "
                    "Give at least one sample of a class with non-zero class weight a "
                    "positive sample_weight."
                )

    def batch_width(self):
        """The most logits one evaluation asks for: a group's outputs times the groups
        the solver batches together (what a row source sizes its buffers for)."""
        return len(self.groups[0]) * min(len(self.groups), _tuning.SETTINGS.max_batch)

    def group_name(self, g):
        """How group ``g`` is named in messages ("label 3", "class 'setosa'"), or None."""
        if self.group_kind is None:
            return None
        return f"{self.group_kind} {shown(self.group_labels[g])}"

    def subset(self, rows=None, groups=None):
        """The problem on some of its rows (indices) and groups (a fold, or the labels
        fitted at one C); all of them by default."""
        T, s, labels = self.T, self.sample_weight, self.group_labels
        n_outputs = self.n_outputs
        if groups is not None and len(groups) < len(self.groups):
            # only separable links have several groups: one output each
            outputs = np.concatenate([self.groups[g] for g in groups])
            T, n_outputs = T[:, outputs], outputs.size
            s = s[:, outputs] if s.ndim == 2 else s
            labels = [labels[g] for g in groups]
        if rows is not None:
            T, s = T[rows], s[rows]
        return Problem(T, s, self.link, n_outputs, self.group_kind, labels)

    def weight_totals(self):
        """``S_g`` of each group, float64."""
        s = self.sample_weight
        S = s.T.sum(axis=-1, dtype=np.float64)  # over contiguous rows of the stored layout
        return np.array([S if s.ndim == 1 else S[g].sum() for g in self.groups], np.float64)


class L2Penalty:
    """``1/2 ||W||_F^2`` on the weights; the intercepts are not penalised."""

    @staticmethod
    def value(W):
        return 0.5 * float(np.sum(W * W))

    @staticmethod
    def gradient(W):
        return W

    @staticmethod
    def hessian(output_map, n_features, fit_intercept):
        """The Hessian over parameters ``theta`` with ``W = output_map @ theta``.

        ``output_map`` (n_outputs, m) maps m free outputs to the model's outputs (the
        identity, or for a softmax's differences from a reference class the map to the
        zero-sum representative). Parameters are ordered output by output, each as
        (features..., intercept): the result is ``kron(M^T M, diag(1, ..., 1, 0))``.
        """
        per_term = np.ones(n_features + int(fit_intercept))
        if fit_intercept:
            per_term[-1] = 0.0
        output_map = np.asarray(output_map, dtype=np.float64)
        return np.kron(output_map.T @ output_map, np.diag(per_term))


class Preconditioner:
    """The affine map between (W, b) and the parameters theta L-BFGS works on.

    ``W = W_theta / d`` and ``b = b_theta - W @ mu``, with ``mu`` the column means (zero
    without intercept) and ``d_j^2 = var_j + floor``: the square root of the diagonal of
    the objective's Hessian at the start (``c * var_j + alpha``, c the loss curvature at
    zero logits, alpha the penalty strength), up to a common factor. theta are the
    parameters of the model on the centred, scaled features ``(X - mu) / d``, without
    forming them. Columns of any scale then look alike to L-BFGS, and a near-constant
    column, which the penalty dominates, is not blown up into a stiff direction.

    The gradient in theta is also what ``tol`` measures: scale-free, and on
    standardised data the gradient in W up to the factor ``sqrt(1 + floor)`` (1% on
    178 samples at C=1). Measured without the floor (on the plain standardised
    features), a feature that the penalty pins at zero would keep a gradient that no
    step can remove.
    """

    def __init__(self, moments, fit_intercept, floor):
        scale, mean, mean_sq = moments
        spread = np.maximum(mean_sq - mean**2, 0.0) if fit_intercept else mean_sq
        self.mu = scale * mean if fit_intercept else np.zeros_like(mean)
        # The moments are of x / scale, so that features of 1e300 or 1e-300 neither
        # overflow nor vanish; hypot keeps sqrt(std^2 + floor) in range too.
        std = scale * np.sqrt(spread)
        d = np.hypot(std, np.sqrt(floor))
        self.d = np.where(d > 0, d, 1.0)

    @classmethod
    def identity(cls, n_features):
        """No preconditioning: theta is (W, b) itself."""
        return cls((np.ones(n_features), np.zeros(n_features), np.ones(n_features)), False, 0.0)

    def to_model(self, theta_W, theta_b):
        W = theta_W / self.d
        b = None if theta_b is None else theta_b - W @ self.mu
        return W, b

    def to_theta(self, W, b):
        return W * self.d, (None if b is None else b + W @ self.mu)

    def grad_to_theta(self, gW, gb):
        """Chain rule: the gradient in theta from the gradient in (W, b)."""
        if gb is not None:
            gW = gW - np.outer(gb, self.mu)
        return gW / self.d, gb


class Objective:
    """``f_g`` of the module docstring for every group, in preconditioned parameters.

    Parameters
    ----------
    rows : RowSource
        Sums the data term over the rows of X (``_rows.py``).
    problem : Problem
        Targets, weights, likelihood and groups.
    C : float
        Inverse penalty strength; ``np.inf`` for none.
    fit_intercept : bool

    The flat parameter vector of a group is ``theta_W.ravel()`` followed by
    ``theta_b`` (with an intercept). ``dtype`` is the arithmetic of the data term, X's;
    :meth:`in_float64` gives the same objective computed in float64.
    """

    penalty = L2Penalty()

    def __init__(self, rows, problem, *, C, fit_intercept):
        self.rows, self.problem = rows, problem
        self.link, self.groups = problem.link, problem.groups
        self.fit_intercept = fit_intercept
        self.dtype = rows.dtype
        self.n_features = rows.n_features
        self.width = len(self.groups[0])
        self.S = rows.weight_totals(problem.groups)
        # Moments weighted like the objective, so that weighted data and repeated rows
        # get the same preconditioner (and so the same iterates).
        self.moments = None
        if _tuning.SETTINGS.precondition:
            self.moments = rows.moments()
        self._at_zero = {}  # the data term's gradient at zero, shared with at()'s copies
        self._last = {}  # each group's last data term, shared with at()'s copies
        self._penalise(C)

    def _penalise(self, C):
        """The parts that depend on C: the penalty's weight and the preconditioner."""
        self.C = C
        self.penalised = not np.isinf(C)
        self.alpha = 1.0 / (C * self.S) if self.penalised else None
        if self.moments is None:
            self.preconditioner = Preconditioner.identity(self.n_features)
            return
        curvature = self.link.curvature_at_zero(self.width)
        floor = 1.0 / (C * np.max(self.S) * curvature) if self.penalised else 0.0
        self.preconditioner = Preconditioner(self.moments, self.fit_intercept, floor)

    @property
    def n_groups(self):
        return len(self.groups)

    def at(self, C):
        """This objective at another ``C``: the same rows, targets and moments (a path)."""
        other = copy.copy(self)
        other._penalise(C)
        return other

    def in_float64(self):
        """This objective with its data term computed in float64 arithmetic."""
        other = copy.copy(self)
        other.dtype = np.dtype(np.float64)
        return other

    def gradient_at_zero(self):
        """``max|grad f_g|`` at zero coefficients, where a fit without warm start begins.

        One value per group, in the preconditioned parameters of this C. The data
        term's gradient there does not depend on C (nor does the penalty's, which is
        zero): it is summed over the rows once and shared by :meth:`at`'s copies.
        """
        if self.dtype not in self._at_zero:
            batch = min(self.n_groups, _tuning.SETTINGS.max_batch)
            sums = []
            for first in range(0, self.n_groups, batch):
                outputs = np.concatenate(self.groups[first : first + batch])
                W = np.zeros((outputs.size, self.n_features), self.dtype)
                b = np.zeros(outputs.size, self.dtype) if self.fit_intercept else None
                every = outputs.size == self.problem.n_outputs
                sums.append(self.rows.loss_grad(W, b, None if every else outputs, self.link)[1:])
            self._at_zero[self.dtype] = [
                np.concatenate(part) if part[0] is not None else None for part in zip(*sums)
            ]
        gW, gb = self._at_zero[self.dtype]
        scales = []
        for g, rows in enumerate(self.groups):
            S = self.S[g]
            tW, tb = self.preconditioner.grad_to_theta(
                gW[rows].astype(np.float64) / S, None if gb is None else gb[rows] / S
            )
            scales.append(max(_max_abs(tW), 0.0 if tb is None else _max_abs(tb)))
        return np.array(scales)

    def unpack(self, x):
        """``(theta_W, theta_b)`` of a flat parameter vector (``theta_b`` None)."""
        n_coef = self.width * self.n_features
        return x[:n_coef].reshape(self.width, self.n_features), (
            x[n_coef:] if self.fit_intercept else None
        )

    def start(self, init):
        """Flat starting points of the groups: zeros, or ``init = (coef, intercept)``."""
        size = self.width * (self.n_features + int(self.fit_intercept))
        if init is None:
            return [np.zeros(size) for _ in self.groups]
        x0s = []
        for g in self.groups:
            tW, tb = self.preconditioner.to_theta(
                init[0][g], init[1][g] if self.fit_intercept else None
            )
            x0s.append(np.concatenate([tW.ravel(), [] if tb is None else tb]))
        return x0s

    def coefficients(self, x):
        """``(W, b)`` of a group's flat parameters, float64, as the model reports them.

        The link's canonical representative (zero column sums for a softmax); b is
        zeros without intercept.
        """
        W, b = self.preconditioner.to_model(*self.unpack(x))
        return self.link.canonical(W, np.zeros(self.width) if b is None else b)

    def loss_gradient(self, batch):
        """``{g: (f_g, grad_g)}`` for ``batch = {g: x_g}``: one pass over the rows.

        The groups of a batch are evaluated together, their logits side by side;
        ``grad_g`` is the gradient with respect to the flat parameters ``x_g``.
        """
        order = sorted(batch)
        theta = [self.unpack(batch[g]) for g in order]
        W, b = self.preconditioner.to_model(
            _joined(np.vstack, [t[0] for t in theta]),
            _joined(np.concatenate, [t[1] for t in theta]) if self.fit_intercept else None,
        )
        outputs = _joined(np.concatenate, [self.groups[g] for g in order])
        loss, gW, gb = self.rows.loss_grad(
            W.astype(self.dtype, copy=False),
            None if b is None else b.astype(self.dtype, copy=False),
            None if len(outputs) == self.problem.n_outputs else outputs,
            self.link,
        )
        out = {}
        for k, g in enumerate(order):
            rows = slice(k * self.width, (k + 1) * self.width)
            S = self.S[g]
            data = (
                float(np.sum(loss[rows]) if self.link.separable else loss) / S,
                gW[rows].astype(np.float64, copy=False) / S,
                None if gb is None else gb[rows].astype(np.float64, copy=False) / S,
            )
            self._last[g, self.dtype] = (batch[g].copy(), self.preconditioner, data)
            out[g] = self._with_penalty(g, W[rows], *data)
        return out

    def _with_penalty(self, g, W, f, gW, gb):
        """``(f_g, grad_g)`` of group g at model weights W from its data term ``(f, gW,
        gb)`` (divided by ``S_g``): the penalty added, the gradient preconditioned."""
        if self.penalised:
            f = f + self.alpha[g] * self.penalty.value(W)
            gW = gW + self.alpha[g] * self.penalty.gradient(W)
        gW, gb = self.preconditioner.grad_to_theta(gW, gb)
        return f, np.concatenate([gW.ravel(), [] if gb is None else gb])

    def at_last_point(self, init, xs):
        """``[(f_g, grad_g)]`` at ``xs`` (the flat parameters of ``init = (coef,
        intercept)``) from the data term of each group's last evaluation, or None.

        The data term does not depend on C: where each group was last evaluated at
        ``init`` (up to the link's canonical shift, which leaves it unchanged), at the
        same C or another (:meth:`at` shares the record), only the penalty is new.
        A path's warm start is its previous point: no pass over the rows.
        """
        values = []
        for g, (rows, x) in enumerate(zip(self.groups, xs)):
            last = self._last.get((g, self.dtype))
            if last is None:
                return None
            x_last, preconditioner, data = last  # coefficients() at the C evaluated
            W, b = preconditioner.to_model(*self.unpack(x_last))
            ends = self.link.canonical(W, np.zeros(self.width) if b is None else b)
            if not all(np.array_equal(a, i[rows]) for a, i in zip(ends, init)):
                return None
            Wx, _ = self.preconditioner.to_model(*self.unpack(x))
            values.append(self._with_penalty(g, Wx, *data))
        return values
