"""Array namespaces: where a fit's data live, and moving small arrays between host and device.

Under ``sklearn.config_context(array_api_dispatch=True)`` an X of another array-API
namespace than NumPy (PyTorch, CuPy, array_api_strict) stays in its namespace and on its
device: the loss and gradient are evaluated there (``_loss.chunk_loss_grad`` on
``_rows.NamespaceRows``), and only the parameters (n_outputs x n_features numbers) and
the sums cross to the host for scipy's L-BFGS at each evaluation. The targets and weights
are encoded on the host, as for NumPy, and then moved to X's device once; fitted
attributes are moved to X's namespace and device at the end, as scikit-learn does.
Without dispatch, or for NumPy, sparse and Dask inputs, nothing here applies.

The helpers wrap ``sklearn.utils._array_api`` (scikit-learn >= 1.6; ``move_to`` and
``check_same_namespace`` where the installed version has them).
"""

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import _array_api
from sklearn.utils._array_api import get_namespace, get_namespace_and_device
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "as_float64",
    "check_same_namespace",
    "is_numpy",
    "max_float",
    "namespace_of",
    "take_labels",
    "to_device",
    "to_host",
]


def namespace_of(X, dispatch=True):
    """``(xp, device)`` of X when its fit runs in another namespace than NumPy, else None.

    That is: array-API dispatch is on, and X is a dense array of a non-NumPy namespace.
    ``dispatch=False`` gives NumPy's namespace for a NumPy X (the namespace kernel run on
    NumPy, for benchmarks).
    """
    if sp.issparse(X) or not _is_array(X):
        return None
    if not dispatch:
        return get_namespace(X)[0], "cpu"
    if not get_config()["array_api_dispatch"]:
        return None
    xp, _, device = get_namespace_and_device(X)
    return None if is_numpy(xp) else (xp, device)


def is_numpy(xp):
    """Whether ``xp`` is NumPy (or scikit-learn's or array_api_compat's wrapper of it)."""
    return _array_api._is_numpy_namespace(xp)


def to_host(a):
    """A NumPy copy of an array of any namespace and device (arrays of NumPy, sparse
    matrices, lists, DataFrames and None are returned as they are)."""
    if a is None or isinstance(a, np.ndarray) or sp.issparse(a) or not _is_array(a):
        return a
    xp = _compat_namespace(a)  # with dispatch on or off
    if xp is None or is_numpy(xp):
        return np.asarray(a)
    return _array_api._convert_to_numpy(a, xp)


def to_device(a, xp, device):
    """``a`` (a NumPy array, or None) as an array of ``xp`` on ``device``."""
    if a is None:
        return None
    a = np.ascontiguousarray(a)
    if not a.flags.writeable:  # PyTorch warns on read-only memory (a broadcast, say)
        a = a.copy()
    return xp.asarray(a, device=device)


def max_float(xp, device):
    """The most precise floating dtype of ``xp`` on ``device`` (float32 where float64 is
    not supported, as on Apple's MPS)."""
    return _array_api._max_precision_float_dtype(xp, device)


def check_same_namespace(X, estimator, method):
    """Refuse an X of another namespace or device than the fitted ``coef_``.

    scikit-learn's ``check_same_namespace`` (and its message) under array-API dispatch;
    without dispatch, a model fitted on another namespace than NumPy is refused with a
    message that says how to use it.
    """
    check_is_fitted(estimator)
    coef = estimator.coef_
    if not get_config()["array_api_dispatch"]:
        if not isinstance(coef, np.ndarray):
            xp, _, device = get_namespace_and_device(coef)
            raise ValueError(
                f"{type(estimator).__name__} was fitted on {xp.__name__} arrays (device "
                f"{device}) under array_api_dispatch: call {method}() inside "
                "sklearn.config_context(array_api_dispatch=True) with X of that namespace "
                "and device."
            )
        return
    checker = getattr(_array_api, "check_same_namespace", None)
    if checker is not None:
        checker(X, estimator, attribute="coef_", method=method)
        return
    a_xp, _, a_device = get_namespace_and_device(coef)
    x_xp, _, x_device = get_namespace_and_device(X)
    if (x_xp == a_xp and x_device == a_device) or (is_numpy(a_xp) and is_numpy(x_xp)):
        return
    raise ValueError(
        f"Inputs passed to {type(estimator).__name__}.{method}() must use the same "
        "namespace and the same device as those passed to fit(). Array namespaces used "
        f"during fit ({a_xp.__name__}, device {a_device}) and {method} ({x_xp.__name__}, "
        f"device {x_device}) differ."
    )


def take_labels(classes, indices):
    """``classes[indices]`` for indices of any namespace: numeric labels in the indices'
    namespace and on their device, others (strings, objects) as a NumPy array, as
    scikit-learn's classifiers return them."""
    if isinstance(indices, np.ndarray):
        return classes[indices]
    if classes.dtype.kind in "biuf":
        xp, _, device = get_namespace_and_device(indices)
        return xp.take(to_device(classes, xp, device), indices, axis=0)
    return classes[to_host(indices)]


def as_float64(Z):
    """``Z`` in float64, or the most precise float its device has."""
    xp, _, device = get_namespace_and_device(Z)
    return xp.astype(Z, max_float(xp, device))


def _compat_namespace(a):
    """array_api_compat's namespace of ``a`` (scikit-learn's copy, or the package), or
    None where neither is installed (dispatch is then impossible too)."""
    try:
        from sklearn.externals import array_api_compat
    except ImportError:
        try:
            import array_api_compat
        except ImportError:
            return None
    return array_api_compat.array_namespace(a)


def _is_array(a):
    # array-API arrays (PyTorch's tensors have no __array_namespace__, but __dlpack__)
    return isinstance(a, np.ndarray) or any(
        hasattr(a, name) for name in ("__array_namespace__", "__dlpack__")
    )
