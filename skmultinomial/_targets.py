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
from sklearn.utils.multiclass import check_classification_targets

__all__ = ["TargetStats", "balanced", "column_stats", "label_stats", "merge_stats"]


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
    check_classification_targets(y)
    labels, codes = np.unique(y, return_inverse=True)
    counts = np.bincount(codes.ravel(), weights=sample_weight, minlength=labels.size)
    return TargetStats(labels, counts, sample_weight.sum(dtype=np.float64))


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
