"""Targets read in the pieces of X's rows: statistics first, then each piece encoded.

A fit reads its targets twice, in the same pieces as the rows of X (the whole ``y`` for
an in-memory fit; each row chunk of a Dask fit, on the worker that holds it):

1. **Statistics.** Each piece gives :class:`TargetStats`: the sorted labels of 1-D
   targets and their weighted counts, or the weighted column sums of 2-D targets, and the
   total weight. :func:`merge_stats` adds them over the pieces: O(n_classes) numbers,
   whatever the number of rows.
2. **Encoding.** From the merged statistics the estimator fixes what the targets mean
   (``classes_``, class and positive weights) and returns an encoder: a small, picklable
   callable ``encode(y_piece, s_piece) -> (T_piece, s_piece)`` that each piece runs, with
   ``T`` the targets and ``s`` the weights of the objective (``_objective.py``).

So the classes of a distributed fit are known before any chunk is encoded (a chunk that
lacks a class is encoded right), and the client never holds the targets.
"""

import dataclasses

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from ._objective import fold_term_weights, smooth
from ._validation import integer_codes_hint, shown

__all__ = [
    "SigmoidEncoding",
    "SoftmaxEncoding",
    "TargetStats",
    "balanced",
    "check_distributions",
    "column_stats",
    "distributions",
    "indicator_or_probabilities",
    "label_stats",
    "unique_labels",
    "merge_stats",
]


@dataclasses.dataclass
class TargetStats:
    """Sufficient statistics of (a piece of) the targets.

    ``labels`` are the sorted distinct labels of 1-D targets (None for 2-D ones);
    ``counts`` their weighted counts, or the weighted column sums of 2-D targets;
    ``total`` the sum of the sample weights; ``n_columns`` the columns of 2-D targets;
    ``sparse`` whether 2-D targets came as a sparse matrix.
    """

    labels: np.ndarray | None
    counts: np.ndarray
    total: float
    n_columns: int | None = None
    sparse: bool = False


def label_stats(y, sample_weight):
    """Statistics of 1-D class labels: their sorted values and weighted counts."""
    labels, codes = unique_labels(y)
    counts = np.bincount(codes.ravel(), weights=sample_weight, minlength=labels.size)
    return TargetStats(labels, counts, sample_weight.sum(dtype=np.float64))


def unique_labels(y):
    """``np.unique(y, return_inverse=True)`` of checked class labels, 1-D.

    Integers (and booleans) of a range at most about the number of labels are counted
    instead of sorted (2.2 against 5.5 ms on 200,000 labels), and are class labels
    whatever their values (scikit-learn's check, which would sort them once more, is for
    the other dtypes)."""
    if y.dtype.kind in "biu" and y.size:
        lo, hi = int(y.min()), int(y.max())
        if hi - lo <= y.size + 1024:
            wide = y if y.dtype.itemsize == 8 else y.astype(np.int64)  # no wrap-around
            first = wide.dtype.type(lo)
            offsets = (wide - first).astype(np.intp, copy=False)
            present = np.bincount(offsets, minlength=hi - lo + 1) > 0
            labels = (first + np.flatnonzero(present).astype(wide.dtype)).astype(y.dtype)
            return labels, (np.cumsum(present) - 1)[offsets]
    check_classification_targets(y)
    return np.unique(y, return_inverse=True)


def class_codes(classes, y):
    """``np.searchsorted(classes, y)``: the index of each label of ``y`` in the sorted
    ``classes``; integer labels of a small range by a table (0.3 against 1.8 ms on
    200,000 labels)."""
    small = y.dtype.kind in "bi" or (y.dtype.kind == "u" and y.dtype.itemsize < 8)
    if small and classes.dtype.kind in "biu" and y.size and classes.size:
        lo, hi = int(classes[0]), int(classes[-1])
        if hi - lo <= 4 * classes.size + 1024 and lo <= int(y.min()) and int(y.max()) <= hi:
            table = np.searchsorted(classes, np.arange(lo, hi + 1))  # any value in range
            return table[y.astype(np.int64, copy=False) - lo]
    return np.searchsorted(classes, y)


def column_stats(T, sample_weight, sparse=False):
    """Statistics of 2-D targets ``T`` (n_rows, n_columns): weighted column sums."""
    counts = sample_weight.astype(np.float64) @ T
    total = sample_weight.sum(dtype=np.float64)
    return TargetStats(None, counts, total, n_columns=T.shape[1], sparse=sparse)


def merge_stats(parts):
    """The statistics of all pieces together (pieces without rows add nothing)."""
    parts = [p for p in parts if p is not None]
    if len(parts) == 1:
        return parts[0]
    total = float(sum(p.total for p in parts))
    kinds = {p.labels is None for p in parts}
    if len(kinds) > 1:
        raise ValueError("y mixes 1-D labels and 2-D targets across its row chunks.")
    if parts[0].labels is None:
        widths = {p.n_columns for p in parts}
        if len(widths) > 1:
            raise ValueError(f"2-D y has row chunks of different widths: {sorted(widths)}.")
        counts = sum(p.counts for p in parts)
        return TargetStats(None, counts, total, parts[0].n_columns, any(p.sparse for p in parts))
    check_classification_targets(np.concatenate([p.labels for p in parts]))
    labels = np.unique(np.concatenate([p.labels for p in parts]))
    counts = np.zeros(labels.size)
    for p in parts:
        counts[np.searchsorted(labels, p.labels)] += p.counts
    return TargetStats(labels, counts, total)


def balanced(counts):
    """ "balanced" weights ``sum(counts) / (len(counts) * counts)``; 0 for an empty count."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.divide(
        counts.sum(axis=0), len(counts) * counts, out=np.zeros_like(counts), where=counts > 0
    )


# --- the softmax's targets ------------------------------------------------------


def check_distributions(y, atol=1e-6):
    """Raise a ValueError naming the first row of 2-D ``y`` that is not a distribution."""
    try:
        P = y.toarray() if sp.issparse(y) else np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "2-D y is read as target distributions (one row per sample, one column per "
            f"class) and must be numeric: {exc}"
        ) from exc
    problems = [
        (~np.isfinite(P).all(axis=1), lambda i: f"contains {P[i][~np.isfinite(P[i])][0]}"),
        ((P < 0).any(axis=1), lambda i: f"has a negative entry, {P[i].min():g}"),
        (np.abs(P.sum(axis=1) - 1) > atol, lambda i: f"sums to {P[i].sum():.6g}, not 1"),
    ]
    for bad, what in problems:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            hint = integer_codes_hint(P)
            if np.isin(P, (0, 1)).all():
                hint = (
                    " It looks like a multi-label indicator matrix: for samples that carry "
                    "several labels at once, use SigmoidMultiLabelClassifier."
                )
            raise ValueError(
                "2-D y is read as target distributions (one row per sample, one column "
                f"per class: non-negative, summing to 1), but row {row} {what(row)} "
                f"({int(bad.sum())} such rows).{hint}"
            )


def distributions(y, dtype):
    """2-D targets as distributions in ``dtype``, renormalised so that each row sums to
    1 exactly (validated to within 1e-6 before), which the loss relies on."""
    T = np.asarray(y.toarray() if sp.issparse(y) else y, dtype=dtype)
    return T / T.sum(axis=1, keepdims=True)


class SoftmaxEncoding:
    """``encode(y, s) -> (T, s)`` for a piece of the softmax's targets (``_targets.py``).

    Hard labels without smoothing become class indices (one logit's 0/1 targets for two
    classes), their class weight a weight of the sample; otherwise target distributions,
    smoothed, each class's term weighed (folded into a sample weight and reweighted
    distributions, ``fold_term_weights``).
    """

    def __init__(self, classes, class_weight, label_smoothing):
        self.classes, self.class_weight = classes, class_weight
        self.label_smoothing = label_smoothing

    def as_given(self):
        """The encoding of the targets as they are: no smoothing, no class weights."""
        return SoftmaxEncoding(self.classes, None, 0.0)

    def __call__(self, y, s):
        dtype, n_classes, class_weight = s.dtype, self.classes.size, self.class_weight
        if y.ndim == 2:
            T, codes = distributions(y, dtype), None
        else:
            T, codes = None, class_codes(self.classes, y)
        if T is None and self.label_smoothing == 0:
            if class_weight is not None:
                s = s * class_weight[codes].astype(dtype)
            return (codes.astype(dtype)[:, None] if n_classes == 2 else codes), s
        if T is None:
            T = (codes[:, None] == np.arange(n_classes)).astype(dtype)
        T = smooth(T, self.label_smoothing, n_classes)
        if class_weight is not None:
            T, w = fold_term_weights(T, class_weight.astype(dtype))
            s = s * w
        return (T[:, 1:] if n_classes == 2 else T), s


# --- the sigmoid model's targets --------------------------------------------------


def indicator_or_probabilities(y):
    """2-D targets as float64, checked: a 0/1 indicator matrix or probabilities in [0, 1]."""
    Y = y.toarray() if sp.issparse(y) else np.asarray(y)
    try:
        Y = Y.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "SigmoidMultiLabelClassifier needs 2-D targets of numbers in [0, 1] (a 0/1 "
            f"indicator matrix, or per-label probabilities); Y holds {Y.dtype} entries "
            f"such as {shown(Y.flat[0])}. Encode label sets with "
            "sklearn.preprocessing.MultiLabelBinarizer."
        ) from exc
    if not np.isfinite(Y).all():
        row, col = np.argwhere(~np.isfinite(Y))[0]
        raise ValueError(f"Input Y contains NaN, infinity or None, first at Y[{row}, {col}].")
    outside = (Y < 0) | (Y > 1)
    if outside.any():
        row, col = np.argwhere(outside)[0]
        raise ValueError(
            "SigmoidMultiLabelClassifier needs 2-D targets of shape (n_samples, n_labels) "
            "with entries in [0, 1]: a 0/1 indicator matrix, or the probability of each "
            f"label. Y[{row}, {col}] is {shown(Y[row, col])} ({type_of_target(Y)}). Encode "
            "label sets with sklearn.preprocessing.MultiLabelBinarizer." + integer_codes_hint(Y)
        )
    return Y


class SigmoidEncoding:
    """``encode(y, s) -> (T, s)`` for a piece of the sigmoid model's targets.

    2-D targets are checked and kept; 1-D labels become one indicator column per label
    (one for binary labels), their samples weighed by a dict of class weights for 3 or
    more classes. Targets are smoothed, and each label's positive and negative terms
    weighed (folded into a weight per entry and new targets, ``fold_term_weights``).
    """

    def __init__(self, classes, sample_class_weight, w_pos, w_neg, label_smoothing):
        self.classes, self.sample_class_weight = classes, sample_class_weight
        self.w_pos, self.w_neg, self.label_smoothing = w_pos, w_neg, label_smoothing

    def as_given(self):
        """The encoding of the targets as they are: no smoothing, no class or positive
        weights."""
        ones = np.ones_like(self.w_pos)
        return SigmoidEncoding(self.classes, None, ones, ones, 0.0)

    def __call__(self, y, s):
        if self.classes is None:
            Y = indicator_or_probabilities(y)
        else:
            codes = class_codes(self.classes, y)
            if self.sample_class_weight is not None:
                s = s * self.sample_class_weight[codes]
            n_classes = self.classes.size
            Y = codes[:, None] == (1 if n_classes == 2 else np.arange(n_classes))
        Y = smooth(Y.astype(s.dtype), self.label_smoothing, 2)
        if np.all(self.w_pos == 1) and np.all(self.w_neg == 1):
            return Y, s
        weights = np.column_stack([self.w_neg, self.w_pos]).astype(s.dtype)
        T, w = fold_term_weights(np.stack([1 - Y, Y], axis=-1), weights)
        return T[..., 1], w * s[:, None]
