"""SoftmaxRegressionClassifier: multinomial logistic regression, one class per sample."""

import numpy as np

from ._arrays import as_float64, check_same_namespace
from ._base import _LinearNLLClassifier
from ._loss import SIGMOID, SOFTMAX, binary_log_proba, log_softmax
from ._targets import SoftmaxEncoding, check_distributions, column_stats, distributions, label_stats
from ._validation import shown
from .distributed import dask_aware

__all__ = ["SoftmaxRegressionClassifier"]


class SoftmaxRegressionClassifier(_LinearNLLClassifier):
    """Multinomial logistic (softmax) regression fitted by L-BFGS.

    Each sample belongs to exactly one of ``K`` classes. The model is
    ``P(y = k | x) = softmax(W x + b)_k`` and is fitted by minimising the penalised
    cross-entropy (negative log-likelihood)::

        C * sum_i s_i * sum_k cw_k t_ik [logsumexp(z_i) - z_ik]  +  1/2 * ||W||_F^2

    with ``z_i = W x_i + b``, ``s_i`` the sample weight, ``cw_k`` the class weight and
    ``t_i`` the target distribution of sample ``i``: one-hot for a label ``y_i`` (the
    sum is then ``cw_{y_i} (logsumexp(z_i) - z_{i, y_i})``), or given. The intercept
    ``b`` is not penalised. For hard labels this is the objective of scikit-learn's
    ``LogisticRegression(C=C)``, and the fit reaches the same optimum. (The objective
    common to both estimators, and how L-BFGS sees it, is stated once in
    ``skmultinomial._objective``.)

    Targets ``y`` are either 1-D class labels of any type, or a 2-D array of target
    distributions of shape (n_samples, n_classes) (soft targets: probabilistic labels
    from several annotators, a teacher model's probabilities): non-negative rows that
    sum to 1, whose columns are the classes, named by ``classes`` or ``0 .. K-1``. A
    soft-target fit is exactly the fit of the data with each row repeated once per
    class ``k`` with label ``k`` and weight ``s_i t_ik``.

    With two classes the softmax over two logits is the sigmoid of their difference, so
    the model has a single logit ``z = w.x + b`` for ``classes_[1]``: ``coef_`` has shape
    (1, n_features) and ``decision_function`` is 1-D, as in ``LogisticRegression``.
    With ``K >= 3`` classes ``coef_`` has shape (K, n_features); the softmax is unchanged
    by adding a vector to every row, and the reported ``coef_`` and ``intercept_`` are
    the representative whose columns sum to zero over the classes (the penalised
    optimum is already that one).

    For samples that carry several labels at once, use
    :class:`~skmultinomial.SigmoidMultiLabelClassifier`.

    Parameters
    ----------
    C : float, default=1.0
        Inverse of the regularisation strength; ``np.inf`` fits without penalty (the
        maximum-likelihood estimate, which does not exist on separable data).
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept per logit.
    class_weight : dict or "balanced", default=None
        Weight of each class, ``{class_label: weight}``: it weighs each class's term of
        the cross-entropy (for hard labels, the samples of that class). ``"balanced"``
        uses ``n_samples / (n_classes * counts)``, the counts weighted by
        ``sample_weight`` (as in scikit-learn >= 1.9) and, for soft targets, the sums of
        the target columns before smoothing. Naming a class that is not in the data
        raises a ValueError.
    label_smoothing : float in [0, 1), default=0.0
        PyTorch's ``CrossEntropyLoss(label_smoothing=eps)``: the targets become
        ``(1 - eps) * t + eps / K`` (for labels and distributions alike). Class weights
        then weigh the smoothed distribution: the term of class ``k`` is
        ``cw_k ((1 - eps) t_k + eps / K) (-log q_k)``, as in PyTorch.
    classes : array-like of shape (n_classes,), default=None
        Names of the columns of 2-D target distributions (``classes_``); default
        ``np.arange(n_classes)``. Not used for 1-D labels, whose classes come from the
        data.
    cov_type : {"nonrobust", "robust", "cluster"}, default=None
        Compute, at fit time, the covariance of the coefficients for :meth:`summary` and
        :meth:`marginal_effects` (``cov_params_``): "nonrobust" is the inverse observed
        Fisher information for ``C=np.inf`` and the sandwich ``A^-1 H A^-1`` of the
        penalised estimator for a finite C; "robust" the heteroskedasticity-consistent
        sandwich ``A^-1 B A^-1`` (statsmodels' HC0); "cluster" the cluster-robust one
        over ``fit(..., groups=...)``, with statsmodels' default correction
        ``G/(G-1) (N-1)/(N-k)``. The fit then ends with Newton steps on the exact
        Hessian, so that coefficients and statistics are those of the optimum. None
        skips it (it costs about ``K^2 n p^2``; more than 4,096 coefficients are
        refused). Sample weights count as frequency weights; survey or importance
        weights are not supported.
    reference_class : class label, default=None
        The class whose coefficients the others are reported against in
        :meth:`summary` (default ``classes_[0]``, as statsmodels' ``MNLogit``): the
        softmax is over-parametrised, the differences are identified.
    tol : float, default=1e-5
        L-BFGS stops when the largest entry of the gradient of the objective divided by
        ``C * sum_i s_i`` falls below ``tol``, the gradient taken w.r.t. the weights of
        the centred features scaled by ``sqrt(var_j + floor)`` (the preconditioned
        parametrisation; ``floor`` is the penalty's share of the Hessian's diagonal) and
        the intercepts. On standardised data this is scikit-learn's ``gtol`` convention
        up to that floor (1% at n=178, C=1); on raw data it does not depend on the
        features' units. It also stops when an iteration lowers that objective by less
        than 64 eps (relative; for float32 data, less than its rounding noise,
        eps32 / sqrt(n_samples)). The default is a tenth of ``LogisticRegression``'s:
        at 1e-4 the preconditioned fits, which reach that test in fewer iterations,
        stopped up to 2.5 times further from the optimum than ``LogisticRegression`` at
        its default 1e-4 (standardised digits, wine, iris, raw breast cancer); at 1e-5
        every case measured ends closer (README, "Performance").
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations; a ``ConvergenceWarning`` is raised when it is
        reached. scikit-learn's 100 is too few for raw data sets such as breast cancer
        (about 190 here at ``tol=1e-5``); iterations cost little, and a fit that converges
        stops at ``tol`` whatever the budget.
    warm_start : bool, default=False
        Start from the previous solution when the shapes agree, else from zeros.
    verbose : int, default=0
        If positive, print the objective and the largest gradient entry at each
        iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; for target distributions, ``classes`` or
        ``np.arange(n_classes)``.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights, in the dtype of the training data (float32 or float64).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_iter_ : ndarray of shape (1,)
        Number of L-BFGS iterations run (one problem: one entry, as
        ``LogisticRegression``'s).
    loss_curve_ : list of float
        The objective L-BFGS minimises (the objective above divided by
        ``C * sum_i s_i``: the weighted mean cross-entropy plus the scaled penalty) at
        the start, after each iteration, and where the fit stopped, as
        ``MLPClassifier.loss_curve_``.
    cov_params_ : ndarray of shape ((n_classes - 1) * n_terms, (n_classes - 1) * n_terms)
        With ``cov_type``: the covariance of the coefficients of each class other than
        the reference class minus the reference class's, class by class, each as
        (features..., intercept). Absent when ``cov_type=None``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column names.

    See Also
    --------
    SigmoidMultiLabelClassifier : An independent sigmoid per label.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmultinomial import SoftmaxRegressionClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), SoftmaxRegressionClassifier(C=10.0))
    >>> model.fit(X, y)[-1].coef_.shape
    (3, 4)
    >>> model.predict(X[:3])
    array([0, 0, 0])
    >>> float(model.predict_proba(X[:1]).sum().round(12))
    1.0
    """

    _single_problem = True

    _parameter_constraints: dict = {
        **_LinearNLLClassifier._parameter_constraints,
        "classes": ["array-like", None],
        "reference_class": "no_validation",  # any label; checked against classes_ at fit
    }

    def __init__(
        self,
        *,
        C=1.0,
        fit_intercept=True,
        class_weight=None,
        label_smoothing=0.0,
        classes=None,
        cov_type=None,
        reference_class=None,
        tol=1e-5,
        max_iter=1000,
        warm_start=False,
        verbose=0,
    ):
        super().__init__(
            C=C,
            fit_intercept=fit_intercept,
            class_weight=class_weight,
            label_smoothing=label_smoothing,
            cov_type=cov_type,
            tol=tol,
            max_iter=max_iter,
            warm_start=warm_start,
            verbose=verbose,
        )
        self.classes = classes
        self.reference_class = reference_class

    def _check_targets(self, y, y_shape):
        if len(y_shape) == 2 and y_shape[1] > 1:
            check_distributions(y)

    @staticmethod
    def _target_stats(y, sample_weight):
        if y.ndim == 2:
            check_distributions(y)
            return column_stats(distributions(y, sample_weight.dtype), sample_weight)
        return label_stats(y, sample_weight)

    def _fit_targets(self, stats, target_names):
        if stats.labels is None:  # target distributions
            self.classes_ = self._soft_classes(stats.n_columns, target_names)
        else:
            if self.classes is not None:
                raise ValueError(
                    "classes= names the columns of 2-D target distributions; 1-D labels "
                    "bring their classes with them (classes_ is their sorted unique "
                    "values). Remove classes=, or give the targets as 2-D distributions "
                    "(one-hot rows for labels) to name and order the classes."
                )
            self.classes_ = self._check_classes(stats.labels)
        reference = self.classes_[0] if self.reference_class is None else self.reference_class
        self.reference_class_ = self.classes_[self._reference_index(reference)]
        n_classes = self.classes_.size
        class_weight = self._class_weights(stats.counts)
        total = stats.total
        if class_weight is not None:  # the weight of the objective's terms, all rows
            eps = self.label_smoothing
            total = class_weight @ ((1 - eps) * stats.counts + eps / n_classes * stats.total)
        encode = SoftmaxEncoding(self.classes_, class_weight, self.label_smoothing)
        if n_classes == 2:
            return encode, {"link": SIGMOID, "n_outputs": 1, "totals": [total]}
        return encode, {"link": SOFTMAX, "n_outputs": n_classes, "totals": [total]}

    def _soft_classes(self, n_columns, target_names):
        if n_columns < 2:
            raise ValueError("Target distributions need at least 2 columns (classes).")
        if self.classes is None:
            return np.arange(n_columns) if target_names is None else target_names
        classes = np.asarray(self.classes)
        if classes.shape != (n_columns,):
            raise ValueError(
                f"classes names {classes.size} classes, but the target distributions have "
                f"{n_columns} columns: give one name per column."
            )
        return classes

    def _reference_index(self, reference_class=None):
        """Index in ``classes_`` of ``reference_class`` (default: the fitted one)."""
        if reference_class is None:
            reference_class = getattr(self, "reference_class_", self.classes_[0])
        matches = np.flatnonzero(self.classes_ == reference_class)
        if matches.size == 0:
            raise ValueError(
                f"reference_class={shown(reference_class)} is not one of the classes "
                f"{shown(self.classes_)}."
            )
        return int(matches[0])

    def _group_distributions(self, Z, T, s, g):
        if self.classes_.size == 2:  # one logit for classes_[1]; T holds its targets
            t = T[:, 0].astype(np.float64)
            log_q = None if Z is None else binary_log_proba(Z[:, 0])
            return log_q, np.column_stack([1 - t, t]), s
        if T.ndim == 1:
            T = (T[:, None] == np.arange(self.classes_.size)).astype(np.float64)
        return None if Z is None else log_softmax(Z), T.astype(np.float64), s

    def _margin_names(self, g, values):
        return self.classes_[values]

    def _separated_name(self, g, value):
        return f"class {shown(self.classes_[value])}"

    def _summary_outputs(self, g, free):
        reference = self._reference_index()
        if self.classes_.size == 2:  # the single logit: classes_[1] against classes_[0]
            return self.classes_[[1 - reference]], 1.0 if reference == 0 else -1.0
        return self.classes_[free], 1.0

    def _hard_targets(self, y):
        if np.ndim(y) == 2 and np.shape(y)[1] > 1:
            return self.classes_[np.argmax(np.asarray(y), axis=1)]
        return y

    @dask_aware
    def predict_log_proba(self, X):
        """Log of the class probabilities, computed in log space, in float64.

        Stays finite where ``np.log(predict_proba(X))`` would give ``-inf``. Float64 for
        float32 models too, so that rows of ``predict_proba`` sum to 1 within 1e-15.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        check_same_namespace(X, self, "predict_log_proba")
        # float64 whatever X's dtype: rows of probabilities sum to 1 within 1e-15.
        return self._log_proba(as_float64(self.decision_function(X)))

    @staticmethod
    def _log_proba(Z):
        return binary_log_proba(Z) if Z.ndim == 1 else log_softmax(Z)
