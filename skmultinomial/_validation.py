"""scikit-learn's sample_weight validation, the same on every supported version."""

import numpy as np
from sklearn.utils.validation import _check_sample_weight


def check_sample_weight(sample_weight, X, **kwargs):
    """``_check_sample_weight(..., ensure_non_negative=True)`` that also rejects all-zero
    weights, as scikit-learn >= 1.9 does itself (older versions let them through)."""
    sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True, **kwargs)
    if not np.any(sample_weight):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight
