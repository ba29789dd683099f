"""Statistics of a fit, as statsmodels users read them: summary, fit statistics, margins.

What :class:`InferenceMixin` reports is computed at fit time, from the training rows
through the fit's row source (in memory, or on the chunks of a Dask array), and stored:

- always: the log-likelihood at the fitted coefficients and at the intercept-only
  optimum, for :meth:`~InferenceMixin.fit_statistics`;
- with ``cov_type``: Newton steps on the exact Hessian to the optimum (whatever ``tol``
  the L-BFGS phase stopped at) and the covariance of the coefficients
  (``_information.py``), for :meth:`~InferenceMixin.summary` and
  :meth:`~InferenceMixin.marginal_effects`.

Sample weights are frequency weights (a weight of 2 is the row twice, for every
statistic); survey or importance weights ("probability weights") are not supported.
For penalised fits the statistics are those of the penalised estimator: the
log-likelihood at shrunk coefficients, and sandwich standard errors.
"""

import numpy as np
from scipy.linalg import block_diag
from scipy.stats import chi2
from sklearn.utils.validation import check_is_fitted

from . import _tuning
from ._arrays import to_host
from ._information import covariance, group_sums, newton, row_gram, separable_outputs
from ._objective import L2Penalty
from ._tables import SummaryFrame, margins_table, statistics_table, summary_table

__all__ = ["InferenceMixin"]


class InferenceMixin:
    """``summary()``, ``fit_statistics()``, ``marginal_effects()`` (module docstring).

    The estimator provides the hooks ``_group_distributions`` (a group's fitted and
    target distributions at its logits), ``_reference_index``, ``_summary_outputs``
    and ``_margin_outputs``.
    """

    #: How the outputs of the summary table are named: "class" or "label".
    _summary_output_name = "class"
    #: The estimator is one L-BFGS problem: ``loss_curve_`` is a list and
    #: ``cov_params_`` one matrix (else a list and a matrix per group).
    _single_problem = False

    def summary(self, alpha=0.05):
        """Coefficients with standard errors, z, p-values and confidence intervals.

        Needs ``cov_type`` set when fitting: the table is the fit's own (its reference
        class, covariance type, intercept and coefficients), whatever the parameters
        were set to since. The coefficients are at the optimum: with ``cov_type`` the
        fit ends with Newton steps on the exact Hessian (see ``cov_type``). Sample
        weights count as frequency weights. For penalised fits (finite ``C``) the
        standard errors are those of the penalised estimator (sandwich
        ``A^-1 H A^-1``) and the intervals are centred on coefficients shrunk towards
        zero: they are not the intervals of the unpenalised maximum-likelihood
        estimate. Intervals and p-values use the normal distribution, as statsmodels'
        ``Logit`` and ``MNLogit`` do.

        Parameters
        ----------
        alpha : float, default=0.05
            The intervals cover ``1 - alpha``.

        Returns
        -------
        table : pandas.DataFrame
            Indexed by (class or label, term), terms the feature names (or ``x0``,
            ``x1``, ...) then ``"intercept"``; columns ``coef``, ``std_err``, ``z``,
            ``p_value``, ``ci_lower``, ``ci_upper``. Shown as text (``print``), it
            begins with the fit statistics, as statsmodels' summaries do.
        """
        self._check_inference("summary()", alpha)
        table = summary_table(*self._summary_, alpha)
        return SummaryFrame(table, header=self._header())

    def fit_statistics(self):
        """Log-likelihood, information criteria and the likelihood-ratio test of the fit.

        Computed at fit time on the training rows (sample weights as frequency weights),
        as statsmodels' ``Logit`` and ``MNLogit`` results: ``llf`` (log-likelihood at
        ``coef_``), ``llnull`` (of the intercept-only model: the weighted mean target),
        ``deviance`` (``2 (llsat - llf)``, ``llsat`` 0 for labels), ``aic`` and ``bic``
        (every coefficient counted), ``pseudo_r2`` (McFadden's ``1 - llf / llnull``),
        ``llr`` (``2 (llf - llnull)``) and ``llr_pvalue`` (chi-squared with
        ``df_model`` degrees of freedom), ``df_model`` (coefficients other than
        intercepts), ``df_resid`` (``n_samples`` minus all coefficients) and
        ``n_samples`` (the sum of the weights). For a penalised fit (finite ``C``)
        ``llf`` is at the shrunk coefficients and the degrees of freedom count every
        coefficient, not an effective number: compare penalised fits by cross-validation.
        Class weights and label smoothing are part of the likelihood fitted.

        Returns
        -------
        statistics : pandas.Series, or pandas.DataFrame with one row per label
            (``SigmoidMultiLabelClassifier``: each label is its own model).
        """
        check_is_fitted(self)
        rows = [_statistics(**stats) for stats in self._fit_stats_]
        return statistics_table(rows, self._statistics_index(), self._single_problem)

    def marginal_effects(self, X, at="overall", alpha=0.05):
        """Average marginal effects of each feature on each probability, with errors.

        The derivative of each class's (or label's) probability with respect to each
        feature, averaged over the rows of X (``at="overall"``) or at their mean
        (``at="mean"``), as statsmodels' ``get_margeff(at=..., method="dydx")``; for the
        softmax every class including the reference, for two classes both, for the
        sigmoid model each label. Standard errors by the delta method from the
        covariance of the fit (needs ``cov_type``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The rows to average over, usually the training rows.
        at : {"overall", "mean"}, default="overall"
        alpha : float, default=0.05
            The intervals cover ``1 - alpha``.

        Returns
        -------
        table : pandas.DataFrame
            Indexed by (class or label, term); columns ``effect``, ``std_err``, ``z``,
            ``p_value``, ``ci_lower``, ``ci_upper``.
        """
        from sklearn.utils.validation import validate_data

        from ._margins import average_margins

        self._check_inference("marginal_effects()", alpha)
        if at not in ("overall", "mean"):
            raise ValueError(f'at must be "overall" or "mean", got {at!r}.')
        X = validate_data(self, to_host(X), reset=False, accept_sparse="csr", dtype=np.float64)
        if at == "mean":
            X = np.asarray(X.mean(axis=0)).reshape(1, -1)
        effects, covariances, names = [], [], []
        for g, (theta, cov, free, output_map) in enumerate(self._inference_):
            effect, jacobian = average_margins(X, theta, free, output_map, self.fit_intercept)
            keep = self._margin_outputs(g, effect.shape[0])
            effect, jacobian = effect[keep], jacobian[keep]
            jacobian = jacobian.reshape(-1, jacobian.shape[-2] * jacobian.shape[-1])
            effects.append(effect)
            covariances.append(jacobian @ cov @ jacobian.T)
            names += list(self._margin_names(g, keep))
        terms = [str(t) for t in self._summary_[3][: X.shape[1]]]
        return margins_table(
            np.vstack(effects), block_diag(*covariances), names, terms, self._summary_[4], alpha
        )

    def _check_inference(self, what, alpha):
        check_is_fitted(self)
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}.")
        if not hasattr(self, "_summary_"):
            raise ValueError(
                f"{what} needs the covariance of the coefficients, computed at fit time "
                f"from the training data: set {type(self).__name__}(cov_type='nonrobust') "
                "(or 'robust', or 'cluster' with fit(..., groups=...)) and fit again."
            )

    def _header(self):
        if not hasattr(self, "_fit_stats_") or not self._single_problem:
            return ""
        return _header_text(_statistics(**self._fit_stats_[0]), self)

    # --- at fit time ------------------------------------------------------------------

    def _theta(self, coef, intercept, rows, free):
        """A group's free parameters (m, n_terms) from the model's coefficients."""
        theta = np.column_stack([coef[rows], intercept[rows]]) if self.fit_intercept else coef[rows]
        if len(rows) > 1:  # differences from the reference class
            theta = theta[free] - theta[self._reference_index()]
        return np.array(theta, dtype=np.float64)

    def _group_sums(self, source, problem, g, theta, want):
        free, output_map = self._parametrisation(len(problem.groups[g]))
        return source.map_sum(
            group_sums,
            g=g,
            theta=theta,
            output_map=output_map,
            free=free,
            distributions=self._group_distributions,
            fit_intercept=self.fit_intercept,
            want=want,
        )

    def _fit_inference(self, source, problem, coef, intercept, C):
        """Newton steps to the optimum, then the covariance, group by group (``C[g]``
        the C of group g).

        Returns ``(coef, intercept, converged)`` at the polished optimum and sets
        ``cov_params_``, the summary's table and what marginal effects need.
        """
        n_features = coef.shape[1]
        coef, intercept = coef.astype(np.float64), intercept.astype(np.float64)
        groups, estimates, outputs, converged = [], [], [], True
        for g, rows in enumerate(problem.groups):
            free, output_map = self._parametrisation(len(rows))
            penalty = L2Penalty.hessian(output_map, n_features, self.fit_intercept)
            theta, A_inv, state, done = newton(
                lambda theta, want, g=g: self._group_sums(source, problem, g, theta, want),
                self._theta(coef, intercept, rows, free),
                penalty,
                C[g],
                lambda: source.map_sum(row_gram, fit_intercept=self.fit_intercept),
            )
            converged &= done
            if self.cov_type in ("robust", "cluster"):
                state = self._group_sums(source, problem, g, theta, self.cov_type)
            cov = covariance(A_inv, state, self.cov_type, not np.isinf(C[g]), theta.size)
            coef[rows] = output_map @ theta[:, :n_features]
            intercept[rows] = output_map @ theta[:, n_features] if self.fit_intercept else 0.0
            names, sign = self._summary_outputs(g, free)
            groups.append((theta, cov, free, output_map))
            estimates.append(sign * theta)
            outputs += list(names)
        covariances = [cov for _, cov, *_ in groups]
        self.cov_params_ = covariances[0] if self._single_problem else np.stack(covariances)
        self._inference_ = groups
        feature_names = getattr(self, "feature_names_in_", None)
        if feature_names is None:
            feature_names = [f"x{j}" for j in range(n_features)]
        terms = [*map(str, feature_names), *(["intercept"] if self.fit_intercept else [])]
        self._summary_ = (
            np.vstack(estimates),
            block_diag(*covariances),
            outputs,
            terms,
            self._summary_output_name,
        )
        return coef, intercept, converged

    def _fit_statistics_at(self, source, problem, coef, intercept, known=None):
        """The log-likelihoods of the fit and of its intercept-only model, per group.

        ``known``: each group's data term at these coefficients, from the fit's last
        float64 evaluation (``GroupResult.data_loss``), or None to compute it here."""
        stats = []
        coef, intercept = coef.astype(np.float64), intercept.astype(np.float64)
        if known is not None:  # one per output of a separable link, one for a softmax
            losses = np.array(known) if problem.link.separable else known[0]
        else:
            b = intercept if self.fit_intercept else None
            losses = source.data_loss(coef, b, problem.link)
        for g, rows in enumerate(problem.groups):
            free, _ = self._parametrisation(len(rows))
            theta = self._theta(coef, intercept, rows, free)
            if losses is None:
                nll = self._group_sums(source, problem, g, theta, "value")["nll"]
            else:  # one loss per output of a separable link, one in all for a softmax
                nll = float(losses[rows].sum() if problem.link.separable else losses)
            targets = source.map_target_sum(
                _target_sums, g=g, distributions=self._group_distributions, width=len(rows)
            )
            n_coef = theta.size
            stats.append(
                {
                    "llf": -nll,
                    "target_sums": targets["sums"],
                    "llsat": targets["llsat"],
                    "n_samples": targets["weight"],
                    "n_coef": n_coef,
                    "df_model": n_coef - (theta.shape[0] if self.fit_intercept else 0),
                }
            )
        self._fit_stats_ = stats

    def _check_separation(self, X, problem, unpenalised):
        """Unpenalised fits of separable data have no optimum: the separated outputs of
        the groups ``unpenalised`` (fitted at ``C=np.inf``), found by a linear program
        (in memory, up to a size), named in messages."""
        if X.shape[0] * X.shape[1] > _tuning.SETTINGS.max_separation_check:
            return []
        X = to_host(X)  # the linear program runs on the host
        names = []
        for g in unpenalised:
            _, T, s = self._group_distributions(None, problem.T, problem.sample_weight, g)
            if not np.all((T == 0) | (T == 1)):
                continue  # soft targets cannot be separated
            columns = [1] if len(problem.groups[g]) == 1 else list(range(T.shape[1]))
            for j in separable_outputs(X, T[:, columns], s, self.fit_intercept):
                names.append(self._separated_name(g, columns[j]))
        return names

    def _parametrisation(self, width):
        """``(free, output_map)`` of a group of ``width`` logits (``L2Penalty.hessian``).

        A single logit is its own parameter. A softmax's parameters are the free
        classes' differences from the reference class; its logits are their zero-sum
        representative, the rows embedded and centred over the classes.
        """
        if width == 1:
            return np.array([1]), np.ones((1, 1))
        free = np.delete(np.arange(width), self._reference_index())
        return free, (np.eye(width) - 1.0 / width)[:, free]

    def _check_covariance_size(self, X, problem):
        """Refuse, before any work, a covariance too large for memory or patience."""
        width = len(problem.groups[0])
        n_coef = (width - 1 if width > 1 else 1) * (X.shape[1] + int(self.fit_intercept))
        limit = _tuning.SETTINGS.max_covariance_coefficients
        if n_coef <= limit:
            return
        gib = 8 * n_coef**2 / 2**30
        raise ValueError(
            f"cov_type={self.cov_type!r} needs the {n_coef:,} x {n_coef:,} Hessian and "
            f"covariance of {n_coef:,} coefficients{'' if width > 1 else ' per label'}: "
            f"{gib:,.1f} GiB a matrix (several are held at once) and about "
            f"{X.shape[0] * n_coef**2:.1e} multiply-adds for each, more than the limit "
            f"of {limit:,} coefficients. Fit with cov_type=None, or for inference select "
            "fewer features (e.g. sklearn.feature_selection.SelectKBest, or the terms "
            "you want to test) and fit those with cov_type."
        )

    # --- hooks of the estimators ---------------------------------------------------

    def _group_distributions(self, Z, T, s, g):
        """``(log_Q, T_g, s_g)``: group g's fitted log-probabilities and targets, shapes
        (n_rows, n_values) (its classes, or a label's absence and presence), and the
        weights of the rows, at the group's logits ``Z`` (n_rows, width); ``T`` and ``s``
        are the encoded targets and weights of those rows (a row source's). ``Z=None``
        asks for the targets and weights alone (``log_Q`` None)."""
        raise NotImplementedError

    def _reference_index(self):
        """Which value of a group the summary's parameters are differences from."""
        return 0

    def _summary_outputs(self, g, free):
        """``(names, sign)``: what group g's rows of the summary are called, and +-1."""
        raise NotImplementedError

    def _margin_outputs(self, g, n_values):
        """Which of group g's values (classes, or absent/present) the margins report."""
        return np.arange(n_values)

    def _margin_names(self, g, values):
        raise NotImplementedError

    def _separated_name(self, g, value):
        raise NotImplementedError

    def _statistics_index(self):
        return None


def _target_sums(source, g, distributions, width):
    """``sum_i s_i t_i`` over a group's ``width`` values, ``sum_i s_i sum_v t_iv log t_iv``
    and ``sum_i s_i``."""
    if source.T.ndim == 1:  # a softmax's class indices: one-hot rows, whose t log t is 0
        s = source.s.astype(np.float64)  # (no one-hot matrix: 320 MB at 400k x 100)
        sums = np.bincount(source.T, weights=s, minlength=width)
        return {"sums": sums, "llsat": 0.0, "weight": float(s.sum())}
    _, T, s = distributions(None, source.T, source.s, g)  # the targets alone
    s = s.astype(np.float64)
    # t log t is 0 at t = 0 and t = 1: only rows with a target strictly between count
    soft = np.flatnonzero(_any_per_row((T > 0) & (T < 1)))
    Ts = T[soft]
    logs = np.log(np.where(Ts > 0, Ts, 1.0))
    llsat = float(s[soft] @ np.sum(np.where(Ts > 0, Ts * logs, 0.0), axis=1))
    return {"sums": s @ T, "llsat": llsat, "weight": float(s.sum())}


def _any_per_row(mask):
    """``mask.any(axis=1)``; column by column for a few columns (NumPy's reduction over
    a short axis took 2.8 ms on 200k x 2, the columns 0.27 ms)."""
    if mask.shape[1] > 8 or mask.shape[1] == 0:
        return mask.any(axis=1)
    out = mask[:, 0].copy()
    for column in mask.T[1:]:
        out |= column
    return out


def _statistics(llf, target_sums, llsat, n_samples, n_coef, df_model):
    """statsmodels' fit statistics from the log-likelihoods and the counts."""
    mean = target_sums / target_sums.sum()
    logs = np.log(np.where(mean > 0, mean, 1.0))
    llnull = float(np.sum(np.where(target_sums > 0, target_sums * logs, 0.0)))
    llr = 2 * (llf - llnull)
    return {
        "llf": llf,
        "llnull": llnull,
        "deviance": 2 * (llsat - llf),
        "aic": -2 * llf + 2 * n_coef,
        "bic": -2 * llf + np.log(n_samples) * n_coef,
        "pseudo_r2": 1 - llf / llnull if llnull != 0 else 0.0,
        "llr": llr,
        "llr_pvalue": float(chi2.sf(llr, df_model)) if df_model > 0 else np.nan,
        "df_model": float(df_model),
        "df_resid": n_samples - n_coef,
        "n_samples": n_samples,
    }


def _header_text(stats, estimator):
    lines = [
        f"{type(estimator).__name__} (C={estimator.C:g}, cov_type={estimator.cov_type!r})",
        f"n_samples {stats['n_samples']:g}   df_model {stats['df_model']:g}   "
        f"df_resid {stats['df_resid']:g}",
        f"log-likelihood {stats['llf']:.6g}   null {stats['llnull']:.6g}   "
        f"pseudo R2 {stats['pseudo_r2']:.4f}",
        f"AIC {stats['aic']:.6g}   BIC {stats['bic']:.6g}   "
        f"LLR {stats['llr']:.6g} (p = {stats['llr_pvalue']:.3g})",
    ]
    return "\n".join(lines)
