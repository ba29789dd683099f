"""Entropy, cross-entropy and KL divergence of rows of distributions, and a soft-target scorer.

Cross-entropy is defined between two distributions, the target P and the model's Q::

    H(P, Q) = -sum_k p_k log q_k = H(P) + KL(P || Q)

For hard labels (one-hot P) it is the negative log-likelihood, scikit-learn's
``log_loss``. The functions here take rows of distributions of shape (n_samples,
n_classes), the binary forms rows of per-label probabilities of shape (n_samples,) or
(n_samples, n_labels) (each entry the probability of a label being present, summed over
labels per sample). All of them:

- use the natural log by default (nats); ``base=2`` gives bits;
- treat ``0 log 0`` as 0, so that a class or label with zero target probability
  contributes nothing whatever Q says;
- return ``inf`` where P is positive and Q is zero (the model gave no probability to
  something that happens): that is the value of the divergence, not an error. Clip Q
  yourself if you want a finite penalty instead;
- average over samples, weighted by ``sample_weight``, or with ``average=False`` return
  one value per sample;
- take 1-D class labels for P too, as their scorers do: one-hot rows over ``labels``
  (default the sorted labels, as ``sklearn.metrics.log_loss``), or for the binary forms
  the probability of ``labels[1]``.
"""

import inspect

import numpy as np
from scipy.special import xlogy

from ._validation import check_sample_weight, shown

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_scorer",
    "binary_entropy",
    "binary_kl_divergence",
    "cross_entropy",
    "cross_entropy_scorer",
    "entropy",
    "kl_divergence",
]


def _rows(name, P, n_columns=None, binary=False):
    P = np.asarray(P, dtype=np.float64)
    if binary:
        if P.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D, got shape {P.shape}.")
        P2 = P.reshape(P.shape[0], -1)
    else:
        if P.ndim != 2:
            raise ValueError(f"{name} must be 2-D, one distribution per row, got shape {P.shape}.")
        P2 = P
    if n_columns is not None and P2.shape != n_columns:
        raise ValueError(f"{name} has shape {P.shape}, expected the shape of P, {n_columns}.")
    if not np.all((P2 >= 0) & (P2 <= 1)):
        raise ValueError(f"{name} must hold probabilities in [0, 1] (no NaN).")
    if not binary and not np.allclose(P2.sum(axis=1), 1, atol=1e-6):
        row = int(np.flatnonzero(~np.isclose(P2.sum(axis=1), 1, atol=1e-6))[0])
        raise ValueError(f"The rows of {name} must sum to 1; row {row} sums to {P2[row].sum()}.")
    return P2


def _as_distributions(P, n_columns, labels):
    """1-D class labels as one-hot rows over ``labels`` (default: their sorted values)."""
    P = np.asarray(P)
    if P.ndim != 1:
        return P
    labels = np.unique(P) if labels is None else np.asarray(labels)
    if labels.size != n_columns:
        raise ValueError(
            f"P holds 1-D class labels of {labels.size} classes ({shown(labels)}) but Q has "
            f"{n_columns} columns: pass labels= with the classes of Q's columns, in order "
            "(e.g. labels=estimator.classes_)."
        )
    unknown = ~np.isin(P, labels)
    if unknown.any():
        raise ValueError(f"P holds labels not in labels={shown(labels)}: {shown(P[unknown][0])}.")
    return (P[:, None] == labels).astype(np.float64)


def _as_probabilities(P, Q, labels):
    """1-D binary class labels as the probability of the second class (and Q's column)."""
    P, Q = np.asarray(P), np.asarray(Q)
    if P.ndim != 1:
        return P, Q
    Q = Q[:, 1] if Q.ndim == 2 and Q.shape[1] == 2 else Q  # predict_proba of binary labels
    numeric = P.dtype.kind in "biuf"
    zero_one = labels is None or np.array_equal(np.asarray(labels, dtype=object), [0, 1])
    if zero_one and numeric and np.all((P >= 0) & (P <= 1)):
        return P, Q  # probabilities (0/1 labels are their own probabilities)
    labels = np.unique(P) if labels is None else np.asarray(labels)
    if labels.size != 2:
        raise ValueError(
            f"1-D P holds class labels ({shown(labels)}): binary metrics need two classes, "
            "or per-label probabilities in [0, 1]."
        )
    return (P == labels[1]).astype(np.float64), Q


def _pair(P, Q, labels, binary):
    """P and Q as checked rows; P may be 1-D labels (see the module docstring)."""
    if binary:
        P, Q = _as_probabilities(P, Q, labels)
    else:
        Q = _rows("Q", Q)  # 2-D distributions, whatever P is
        P = _as_distributions(P, Q.shape[1], labels)
    P = _rows("P", P, binary=binary)
    return P, _rows("Q", Q, P.shape, binary=binary)


def _reduce(per_sample, sample_weight, average, base):
    if base is not None:
        per_sample = per_sample / np.log(base)
    if not average:
        return per_sample
    weights = check_sample_weight(sample_weight, per_sample.shape[0], per_sample.dtype)
    return float(np.average(per_sample, weights=weights))


_PARAMETERS = {
    "P": """P : array-like of shape (n_samples, n_classes) or (n_samples,)
    Target distributions (non-negative rows summing to 1), or 1-D class labels (read
    as one-hot rows over ``labels``).""",
    "Q": """Q : array-like of shape (n_samples, n_classes)
    Model distributions, e.g. ``predict_proba(X)``.""",
    "labels": """labels : array-like of shape (n_classes,), default=None
    For 1-D labels P: the classes of Q's columns, in order (``estimator.classes_``);
    default the sorted labels found in P, as ``sklearn.metrics.log_loss``.""",
    "binary P": """P : array-like of shape (n_samples,) or (n_samples, n_labels)
    Target probability of each label (0/1 for hard labels), or 1-D binary class
    labels of any type (read as the probability of ``labels[1]``; numbers in [0, 1]
    with ``labels`` None or ``[0, 1]`` are probabilities).""",
    "binary Q": """Q : array-like of the shape of P
    Model probability of each label, e.g. ``predict_proba(X)`` of the sigmoid model;
    for 1-D P also the two columns of a binary model's ``predict_proba``.""",
    "binary labels": """labels : array-like of shape (2,), default=None
    For 1-D class labels P: the two classes, negative then positive
    (``estimator.classes_``); default the sorted labels found in P.""",
    "sample_weight": """sample_weight : array-like of shape (n_samples,), default=None
    Weights of the average.""",
    "average": """average : bool, default=True
    Weighted mean over samples if True, else an array of one value per sample.""",
    "base": """base : float, default=None
    Logarithm base; None is the natural log (nats), 2 gives bits.""",
}

_RETURNS = """Returns
-------
float or ndarray of shape (n_samples,)
    The weighted mean over samples, or with ``average=False`` the value of each
    sample (in nats, or in the unit of ``base``)."""


def _parameters(*names):
    """Write the Parameters and Returns sections of a metric into its docstring, at the
    line ``{parameters}``: the descriptions the metrics share are written once, above."""

    def document(metric):
        if metric.__doc__ is None:  # python -OO
            return metric
        entries = [_PARAMETERS[name] for name in (*names, "sample_weight", "average", "base")]
        sections = "\n".join(["Parameters", "----------", *entries, "", _RETURNS])
        doc = inspect.cleandoc(metric.__doc__).replace("{parameters}", sections)
        metric.__doc__ = doc + "\n"
        return metric

    return document


@_parameters("P", "Q", "labels")
def cross_entropy(P, Q, *, labels=None, sample_weight=None, average=True, base=None):
    """Cross-entropy ``H(P, Q) = -sum_k p_k log q_k`` of each row of Q against P.

    {parameters}

    Examples
    --------
    >>> from skmultinomial.metrics import cross_entropy
    >>> round(cross_entropy([[0.8, 0.2]], [[0.7, 0.3]]), 4)
    0.5261
    >>> round(cross_entropy(["cat", "dog"], [[0.7, 0.3], [0.4, 0.6]]), 4)  # labels
    0.4338
    """
    P, Q = _pair(P, Q, labels, binary=False)
    with np.errstate(divide="ignore"):
        per_sample = -xlogy(P, Q).sum(axis=1)
    return _reduce(per_sample, sample_weight, average, base)


@_parameters("P")
def entropy(P, *, sample_weight=None, average=True, base=None):
    """Entropy ``H(P) = -sum_k p_k log p_k`` of each row of P (``0 log 0 = 0``).

    {parameters}
    """
    return cross_entropy(P, P, sample_weight=sample_weight, average=average, base=base)


@_parameters("P", "Q", "labels")
def kl_divergence(P, Q, *, labels=None, sample_weight=None, average=True, base=None):
    """Kullback-Leibler divergence ``KL(P || Q) = sum_k p_k log(p_k / q_k) >= 0``.

    Computed as ``H(P, Q) - H(P)`` term by term (``p log p - p log q``), so that it is
    exactly 0 where Q equals P.

    {parameters}
    """
    P, Q = _pair(P, Q, labels, binary=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = xlogy(P, P) - xlogy(P, Q)
    return _reduce(np.maximum(terms.sum(axis=1), 0.0), sample_weight, average, base)


def _bernoulli(P):
    """The per-label probabilities as two-column distributions: (1 - p, p)."""
    return np.stack([1 - P, P], axis=-1)


@_parameters("binary P", "binary Q", "binary labels")
def binary_cross_entropy(P, Q, *, labels=None, sample_weight=None, average=True, base=None):
    """Binary cross-entropy of per-label probabilities, summed over labels.

    ``-sum_l [p_l log q_l + (1 - p_l) log(1 - q_l)]`` per sample: the cross-entropy of
    independent Bernoulli labels, the loss of ``SigmoidMultiLabelClassifier``.

    {parameters}
    """
    P, Q = _pair(P, Q, labels, binary=True)
    with np.errstate(divide="ignore"):
        per_label = -xlogy(_bernoulli(P), _bernoulli(Q)).sum(axis=-1)
    return _reduce(per_label.sum(axis=1), sample_weight, average, base)


@_parameters("binary P")
def binary_entropy(P, *, sample_weight=None, average=True, base=None):
    """Entropy of independent Bernoulli labels, summed over labels (``0 log 0 = 0``).

    {parameters}
    """
    return binary_cross_entropy(P, P, sample_weight=sample_weight, average=average, base=base)


@_parameters("binary P", "binary Q", "binary labels")
def binary_kl_divergence(P, Q, *, labels=None, sample_weight=None, average=True, base=None):
    """KL divergence of independent Bernoulli labels, summed over labels (``>= 0``).

    {parameters}
    """
    P, Q = _pair(P, Q, labels, binary=True)
    B = _bernoulli(P)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (xlogy(B, B) - xlogy(B, _bernoulli(Q))).sum(axis=-1)
    return _reduce(np.maximum(terms.sum(axis=1), 0.0), sample_weight, average, base)


class _ProbabilityScorer:
    """A scorer ``scorer(estimator, X, y)``: minus a metric of ``predict_proba(X)`` against y.

    Each scorer's docstring is its own summary, then the description of the call
    (``_CALL``) that the scorers share.
    """

    _CALL = """Usable wherever scikit-learn takes ``scoring=`` (``GridSearchCV``,
    ``cross_validate``, ...). Greater is better, as for scikit-learn's ``neg_*`` scorers.

    Parameters
    ----------
    estimator : fitted estimator
        A model with ``predict_proba`` (and ``classes_``, to read 1-D class labels).
    X : array-like of shape (n_samples, n_features)
        Samples.
    y_true : array-like
        The targets, as the metric takes them; 1-D class labels are read over the
        estimator's ``classes_``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the average.

    Returns
    -------
    float
        Minus the weighted mean of the metric.
    """

    def __init__(self, metric, name, summary):
        self.metric = metric
        self.name = name
        self.__doc__ = f"{summary}\n\n{inspect.cleandoc(self._CALL)}\n"

    def __repr__(self):
        return f"skmultinomial.metrics.{self.name}"

    def __call__(self, estimator, X, y_true, sample_weight=None):
        proba = estimator.predict_proba(X)
        y_true = np.asarray(y_true)
        # 1-D class labels are read over the estimator's classes_
        labels = estimator.classes_ if y_true.ndim == 1 else None
        return -self.metric(y_true, proba, labels=labels, sample_weight=sample_weight)


cross_entropy_scorer = _ProbabilityScorer(
    cross_entropy,
    "cross_entropy_scorer",
    "Scorer: minus the mean cross-entropy of ``predict_proba`` against the targets.\n\n"
    "The targets are distributions (soft targets), or 1-D class labels read as one-hot "
    'rows (then the scorer equals ``"neg_log_loss"``).',
)

binary_cross_entropy_scorer = _ProbabilityScorer(
    binary_cross_entropy,
    "binary_cross_entropy_scorer",
    "Scorer: minus the mean binary cross-entropy (summed over labels) of the per-label "
    "``predict_proba``.\n\nThe targets are 0/1 or soft per-label probabilities, as a "
    "multi-label model's.",
)
