"""Input checks shared by the estimators and metrics, and values shown in messages."""

import sys
import warnings

import numpy as np
from sklearn.utils.validation import _check_sample_weight


def check_sample_weight(sample_weight, n_samples, dtype):
    """``_check_sample_weight(..., ensure_non_negative=True)`` that also rejects all-zero
    weights, as scikit-learn >= 1.9 does itself (older versions let them through).

    Returns a NumPy array of ``dtype`` for ``n_samples`` rows (whatever X's namespace).
    """
    rows = np.empty((n_samples, 0))  # the rows the weights are checked against
    sample_weight = _check_sample_weight(sample_weight, rows, dtype=dtype, ensure_non_negative=True)
    if not np.any(sample_weight):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def shown(value):
    """``value`` in a message as a user wrote it: NumPy scalars as Python scalars (no
    ``np.int64(0)`` or ``np.str_('setosa')``), strings quoted, containers element-wise."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        inner = ", ".join(shown(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' * (len(value) == 1)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{shown(k)}: {shown(v)}" for k, v in value.items()) + "}"
    return repr(value)


def target_names(y):
    """The column names of a 2-D pandas target (multi-label Y, soft targets), or None."""
    columns = getattr(y, "columns", None)
    if columns is None or getattr(y, "ndim", 1) != 2 or len(columns) < 2:
        return None
    return np.asarray(list(columns))


def warn_at_caller(message, category):
    """``warnings.warn`` pointing at the caller's line: the first frame outside this
    package and scikit-learn's fit wrapper, wherever the warning is raised from."""
    frame, level = sys._getframe(0), 1
    while frame is not None and _is_internal(frame.f_globals.get("__name__", "")):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _is_internal(module):
    # this package, and scikit-learn's _fit_context wrapper around fit
    return module in ("skmultinomial", "sklearn.base") or module.startswith("skmultinomial.")


def integer_codes_hint(Y):
    """A hint for 2-D targets of integers beyond {0, 1}: what cross_val_predict makes of
    soft targets (it replaces each column of a 2-D y by its LabelEncoder codes)."""
    Y = np.asarray(Y, dtype=np.float64)
    if Y.size and np.all(Y == np.round(Y)) and Y.max() > 1:
        return (
            " These look like integer codes: cross_val_predict(method='predict_proba') "
            "replaces each column of a 2-D y by such codes before fitting, which destroys "
            "soft targets; cross_validate(..., return_estimator=True, return_indices=True) "
            "gives the same out-of-fold probabilities (see the README, 'Soft targets')."
        )
    return ""


def per_label(name, value, n_labels, low=0.0, high=np.inf, closed=True):
    """A scalar or per-label parameter as an array of shape (n_labels,), checked."""
    value = np.asarray(value, dtype=np.float64)
    if value.ndim > 1 or (value.ndim == 1 and value.shape[0] != n_labels):
        raise ValueError(
            f"{name} must be a scalar or have one entry per label ({n_labels}), "
            f"got shape {value.shape}."
        )
    inside = (value >= low) & (value <= high) if closed else (value > low) & (value < high)
    if not np.all(inside & np.isfinite(value)):
        bounds = f"[{low:g}, inf)" if closed else f"({low:g}, {high:g})"
        raise ValueError(f"{name} must lie in {bounds}, got {value}.")
    return np.broadcast_to(value, (n_labels,))
