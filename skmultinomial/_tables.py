"""The tables statistics are shown in: pandas DataFrames, with a header when printed."""

import numpy as np
from scipy.stats import norm

from ._validation import warn_at_caller

__all__ = ["SummaryFrame", "margins_table", "statistics_table", "summary_table"]


def _pandas():
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("The statistics tables are pandas objects: pip install pandas.") from exc
    return pd


def _normal_table(values, std_err, index, alpha, first):
    """Columns ``first``, std_err, z, p_value, ci_lower, ci_upper under normal errors."""
    pinned = std_err == 0  # an all-zero column under a penalty: estimate 0, no spread
    z = np.divide(values, std_err, out=np.full_like(values, np.nan), where=~pinned)
    half_width = norm.ppf(1 - alpha / 2) * std_err
    columns = {
        first: values,
        "std_err": std_err,
        "z": z,
        "p_value": 2 * norm.sf(np.abs(z)),
        "ci_lower": values - half_width,
        "ci_upper": values + half_width,
    }
    return _pandas().DataFrame(columns, index=index), pinned


def _warn_pinned(pinned, terms):
    if not pinned.any():
        return
    pinned_terms = sorted({terms[i % len(terms)] for i in np.flatnonzero(pinned)})
    more = " ..." if len(pinned_terms) > 10 else ""
    warn_at_caller(
        f"std_err is 0 for the terms {pinned_terms[:10]}{more}: their columns are all zero "
        "in the training data, so the penalty holds their coefficients at exactly 0; "
        "their z and p_value are NaN (undefined). Drop such columns (e.g. "
        "sklearn.feature_selection.VarianceThreshold) before inference.",
        UserWarning,
    )


def summary_table(coef, cov, outputs, terms, output_name, alpha):
    """The DataFrame of ``summary()``: one row per (output, term).

    ``coef`` is (m, n_terms), ``cov`` the covariance of ``coef.ravel()``.
    """
    pd = _pandas()
    index = pd.MultiIndex.from_product([list(outputs), list(terms)], names=[output_name, "term"])
    std_err = np.sqrt(np.maximum(np.diag(cov), 0.0))
    table, pinned = _normal_table(coef.ravel(), std_err, index, alpha, "coef")
    _warn_pinned(pinned, terms)
    return table


def margins_table(effects, cov, outputs, terms, output_name, alpha):
    """The DataFrame of ``marginal_effects()``: one row per (output, feature)."""
    pd = _pandas()
    index = pd.MultiIndex.from_product([list(outputs), list(terms)], names=[output_name, "term"])
    std_err = np.sqrt(np.maximum(np.diag(cov), 0.0))
    table, _ = _normal_table(effects.ravel(), std_err, index, alpha, "effect")
    return table


def statistics_table(rows, labels, single):
    """``fit_statistics()``: a Series for one model, a DataFrame with a row per label."""
    pd = _pandas()
    if single:
        return pd.Series(rows[0], name="fit statistics")
    return pd.DataFrame(rows, index=pd.Index(list(labels), name="label"))


def _summary_frame_class():
    """The DataFrame subclass of summaries, made on first use (pandas is optional)."""
    cls = globals().get("_SummaryFrame")
    if cls is not None:
        return cls
    pd = _pandas()

    class _SummaryFrame(pd.DataFrame):
        """A DataFrame that, printed, begins with the fit statistics (as statsmodels)."""

        _metadata = ["header"]

        @property
        def _constructor(self):
            return pd.DataFrame  # frames derived from it are plain ones

        def __repr__(self):
            return self._with_header(super().__repr__())

        def to_string(self, *args, **kwargs):
            return self._with_header(super().to_string(*args, **kwargs))

        def _with_header(self, table):
            header = getattr(self, "header", "")
            return f"{header}\n\n{table}" if header else table

    _SummaryFrame.__module__ = __name__
    globals()["_SummaryFrame"] = _SummaryFrame
    return _SummaryFrame


def __getattr__(name):  # pickle finds the class by name, in a fresh process too
    if name == "_SummaryFrame":
        return _summary_frame_class()
    raise AttributeError(name)


def SummaryFrame(table, header=""):  # noqa: N802 - a constructor, by use
    """``table`` as a DataFrame whose printed form begins with ``header``."""
    frame = _summary_frame_class()(table)
    frame.header = header
    return frame
