"""SigmoidMultiLabelClassifier: an independent sigmoid per label, any number per sample."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._array_api import get_namespace_and_device
from sklearn.utils._param_validation import Interval, StrOptions

from ._arrays import as_float64, check_same_namespace, take_labels, to_device, to_host
from ._base import _LinearNLLClassifier
from ._loss import SIGMOID, binary_log_proba, log_expit, log_softmax
from ._targets import (
    SigmoidEncoding,
    balanced,
    column_stats,
    indicator_or_probabilities,
    label_stats,
)
from ._validation import per_label, shown, warn_at_caller
from .distributed import dask_aware

__all__ = ["SigmoidMultiLabelClassifier"]


class SigmoidMultiLabelClassifier(_LinearNLLClassifier):
    """Multi-label logistic regression: an independent sigmoid per label, fitted by L-BFGS.

    A sample may carry any number of the ``L`` labels. The model is
    ``P(label l | x) = expit(w_l . x + b_l)`` and each label's sigmoid is fitted by
    minimising its penalised binary cross-entropy::

        C * sum_i s_il * [log(1 + exp(z_il)) - t_il z_il]  +  1/2 * ||w_l||^2

    with ``z_il = w_l . x_i + b_l``, ``s_il`` the sample weight times the label's class
    weight of ``t_il`` (and its ``pos_weight`` when ``t_il = 1``); the intercepts are not
    penalised. The labels are
    independent problems, each fitted to ``tol`` on its own; without class or positive
    weights the fit equals ``OneVsRestClassifier(LogisticRegression(C=C))``.
    Probabilities are per label and do not sum to 1.

    The targets may be:

    - 2-D ``Y`` of shape (n_samples, n_labels), a 0/1 indicator matrix (dense or sparse,
      e.g. from ``MultiLabelBinarizer``), or per-label target probabilities in [0, 1]
      (soft targets, e.g. the fraction of annotators who assigned each label): one
      sigmoid per column; ``classes_`` is ``np.arange(n_labels)``; ``predict`` returns
      the 0/1 indicator matrix and ``predict_proba`` the per-label probabilities, shape
      (n_samples, n_labels). A soft target ``t`` is exactly a row with the label
      (weight ``t``) plus the row without it (weight ``1 - t``).
    - 1-D binary labels: one sigmoid, the same model as ``LogisticRegression``;
      ``predict_proba`` has the two columns of ``classes_``.
    - 1-D labels of ``K >= 3`` classes: one sigmoid per class (one-vs-rest), ``predict``
      is the class of the largest logit and ``predict_proba`` the sigmoids normalised
      over the classes, as ``OneVsRestClassifier`` does. For one class per sample,
      :class:`~skmultinomial.SoftmaxRegressionClassifier` is the likelihood that fits.

    A 2-D column of shape (n_samples, 1) is read as 1-D labels. A label that is constant
    in training is still fitted (its probability tends to 0 or 1 as far as ``tol``
    allows) and gives a ``UserWarning``.

    Parameters
    ----------
    C : float, default=1.0
        Inverse of the regularisation strength; ``np.inf`` fits without penalty.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept per label.
    class_weight : dict, list of dict or "balanced", default=None
        Weights of negative and positive examples per label, as
        ``OneVsRestClassifier(LogisticRegression(class_weight=...))`` applies them:
        ``"balanced"`` weighs label ``l``'s positives by ``n_samples / (2 n_pos_l)`` and
        its negatives by ``n_samples / (2 n_neg_l)`` (counts weighted by
        ``sample_weight``); a list holds one dict
        ``{0: w_negative, 1: w_positive}`` per label (scikit-learn's multi-output
        convention). For 1-D binary labels a dict ``{class_label: weight}`` weighs the
        negative (``classes_[0]``) and positive (``classes_[1]``) terms, as
        ``LogisticRegression`` and the two-class softmax do; for 1-D labels of 3 or more
        classes it weighs the samples of each class in every one-vs-rest label.
    pos_weight : float, array-like of shape (n_labels,) or "balanced", default=None
        Extra weight of the positive examples in each label's loss, as PyTorch's
        ``BCEWithLogitsLoss(pos_weight=...)``; ``"balanced"`` uses
        ``n_neg_l / n_pos_l``, counts weighted by ``sample_weight`` (and, for 1-D labels
        of 3 or more classes, by the samples' class weights). It multiplies
        ``class_weight``.
    label_smoothing : float in [0, 1), default=0.0
        The binary analogue of PyTorch's label smoothing: targets become
        ``(1 - eps) * t + eps / 2``. Class and positive weights are computed from the
        targets before smoothing and then weigh the smoothed terms: the loss of an entry
        is ``w_pos t' (-log q) + w_neg (1 - t') (-log(1 - q))`` with ``t'`` smoothed. A
        dict of class weights on 1-D labels of 3 or more classes weighs whole samples,
        both of their terms.
    threshold : float or array-like of shape (n_labels,), default=0.5
        ``predict`` marks a label when its probability is strictly above the threshold
        (one per label, or one for all). For 1-D labels of 3 or more classes
        ``predict`` takes the most probable class: a threshold other than 0.5 raises.
    cov_type : {"nonrobust", "robust", "cluster"}, default=None
        Compute, at fit time, the covariance of each label's coefficients for
        :meth:`summary` (see ``SoftmaxRegressionClassifier``); the labels are
        independent problems, so their coefficients are uncorrelated.
    tol : float, default=1e-5
        Each label's L-BFGS stops when the largest entry of the gradient of its objective
        divided by ``C * sum_i s_il``, in the preconditioned parametrisation, falls below
        ``tol`` (see ``SoftmaxRegressionClassifier``).
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations per label (see
        ``SoftmaxRegressionClassifier``).
    warm_start : bool, default=False
        Start from the previous solution when the shapes agree, else from zeros.
    verbose : int, default=0
        If positive, print the objective and the largest gradient entry at each
        iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_labels,) or (n_classes,)
        ``np.arange(n_labels)`` for 2-D ``Y``, the sorted class labels for 1-D ``y``.
    y_type_ : {"multilabel-indicator", "binary", "multiclass"}
        Which kind of target the model was fitted on.
    sparse_input_ : bool
        Whether the fitted ``Y`` was a sparse matrix (``predict`` then returns CSR).
    coef_ : ndarray of shape (n_labels, n_features)
        Weights, one row per sigmoid (one row for 1-D binary labels), in the dtype of
        the training data.
    intercept_ : ndarray of shape (n_labels,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_iter_ : ndarray of shape (n_labels,)
        Number of L-BFGS iterations run for each label.
    loss_curve_ : list of list of float
        For each label, its objective (divided by ``C * sum_i s_il``) at the start, after
        each iteration, and where its fit stopped.
    cov_params_ : ndarray of shape (n_labels, n_terms, n_terms)
        With ``cov_type``: the covariance of each label's (features..., intercept).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when ``X`` has string column names.

    See Also
    --------
    SoftmaxRegressionClassifier : Exactly one class per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from skmultinomial import SigmoidMultiLabelClassifier
    >>> X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    >>> clf = SigmoidMultiLabelClassifier().fit(X, Y)
    >>> clf.coef_.shape
    (4, 20)
    >>> clf.predict(X[:2]).shape, clf.predict_proba(X[:2]).shape
    ((2, 4), (2, 4))
    >>> bool(np.all(clf.predict(X) == (clf.predict_proba(X) > 0.5)))
    True
    """

    _parameter_constraints: dict = {
        **_LinearNLLClassifier._parameter_constraints,
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
        "pos_weight": [
            "array-like",
            Interval(Real, 0, None, closed="left"),
            StrOptions({"balanced"}),
            None,
        ],
        "threshold": [Interval(Real, 0, 1, closed="neither"), "array-like"],
    }

    def __init__(
        self,
        *,
        C=1.0,
        fit_intercept=True,
        class_weight=None,
        pos_weight=None,
        label_smoothing=0.0,
        threshold=0.5,
        cov_type=None,
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
        self.pos_weight = pos_weight
        self.threshold = threshold

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        return tags

    @staticmethod
    def _target_stats(y, sample_weight):
        if y.ndim == 2:
            Y = indicator_or_probabilities(y).astype(sample_weight.dtype)
            return column_stats(Y, sample_weight, sparse=sp.issparse(y))
        return label_stats(y, sample_weight)

    def _fit_targets(self, stats, target_names):
        sample_class_weight = None
        if stats.labels is None:
            if isinstance(self.class_weight, dict):
                raise ValueError(
                    "For multi-label Y, class_weight must be 'balanced' or a list of one "
                    "dict {0: weight_negative, 1: weight_positive} per label; a single "
                    "dict of class weights is for 1-D labels."
                )
            self.y_type_ = "multilabel-indicator"
            n_labels = stats.n_columns
            self.classes_ = np.arange(n_labels) if target_names is None else target_names
            kind, n_pos, total = "label", stats.counts, stats.total
        else:
            self.classes_ = self._check_classes(stats.labels)
            n_classes = self.classes_.size
            counts, total = stats.counts, stats.total
            if isinstance(self.class_weight, dict) and n_classes > 2:
                # one-vs-rest: each sample weighed by its class's weight in every label
                sample_class_weight = self._class_weights(None)
                counts = sample_class_weight * counts
                total = counts.sum()
            self.y_type_ = "binary" if n_classes == 2 else "multiclass"
            kind, n_pos = (None, counts[1:]) if n_classes == 2 else ("class", counts)
            n_labels = n_pos.size
            if n_classes > 2 and np.any(np.asarray(self.threshold) != 0.5):
                raise ValueError(
                    "threshold applies to per-label decisions (a 2-D Y, or 1-D binary "
                    f"labels); for 1-D labels of {n_classes} classes predict takes the "
                    "most probable class and would ignore it. Leave threshold at 0.5, "
                    "or fit the one-hot matrix of the labels for per-class thresholds."
                )
        self._thresholds(n_labels)  # a bad per-label threshold fails at fit, not predict
        self.sparse_input_ = stats.sparse
        w_pos, w_neg = self._label_weights(n_pos, total - n_pos)
        eps = self.label_smoothing
        n_pos_smoothed = (1 - eps) * n_pos + eps / 2 * total
        totals = w_pos * n_pos_smoothed + w_neg * (total - n_pos_smoothed)
        encode = SigmoidEncoding(
            None if stats.labels is None else self.classes_, sample_class_weight, w_pos, w_neg, eps
        )
        labels = list(self.classes_) if kind is not None else [None]
        meta = {"link": SIGMOID, "n_outputs": n_labels, "group_kind": kind}
        return encode, {**meta, "group_labels": labels, "totals": totals}

    def _label_weights(self, n_pos, n_neg):
        """Weights of the positive and negative term of each label, shapes (n_labels,).

        ``n_pos`` and ``n_neg`` are the label's weighted counts (by ``sample_weight``),
        so integer weights and repeated rows give the same weights.
        """
        n_labels = n_pos.size
        if self.y_type_ == "multilabel-indicator":
            for label in np.flatnonzero((n_pos == 0) | (n_neg == 0)):
                state = "none" if n_pos[label] == 0 else "all"
                warn_at_caller(
                    f"Label {shown(self.classes_[label])} is positive in {state} of the training "
                    "samples: its "
                    "sigmoid is fitted all the same and predicts a probability close to "
                    f"{0 if n_pos[label] == 0 else 1} for every sample.",
                    UserWarning,
                )
        w_pos, w_neg = np.ones(n_labels), np.ones(n_labels)
        if self.class_weight == "balanced":
            w_neg, w_pos = balanced([n_neg, n_pos])
        elif isinstance(self.class_weight, dict) and self.y_type_ == "binary":
            # the weights of classes_[0] and classes_[1] weigh the two terms, as in the
            # two-class softmax (smoothed targets keep a share of the other term)
            w_neg[0], w_pos[0] = self._class_weights(None)
        elif isinstance(self.class_weight, list):
            if self.y_type_ != "multilabel-indicator" or len(self.class_weight) != n_labels:
                raise ValueError(
                    "A list class_weight holds one dict {0: weight_negative, "
                    f"1: weight_positive}} per label of a 2-D Y: {n_labels} labels here, "
                    f"got {len(self.class_weight)} entries."
                )
            for j, weights in enumerate(self.class_weight):
                if not isinstance(weights, dict) or not set(weights) <= {0, 1}:
                    raise ValueError(
                        f"class_weight[{j}] must be a dict with keys 0 and/or 1 "
                        f"(negative and positive), got {shown(weights)}."
                    )
                w_neg[j], w_pos[j] = weights.get(0, 1.0), weights.get(1, 1.0)
        if isinstance(self.pos_weight, str):  # "balanced"
            ratio = np.ones(n_labels)
            np.divide(n_neg, n_pos, out=ratio, where=(n_pos > 0) & (n_neg > 0))
            w_pos *= ratio
        elif self.pos_weight is not None:
            w_pos *= per_label("pos_weight", self.pos_weight, n_labels)
        return w_pos, w_neg

    _summary_output_name = "label"

    def _group_distributions(self, Z, T, s, g):
        """A label's (absent, present) log-probabilities and targets."""
        t = T[:, g].astype(np.float64)
        log_q = None if Z is None else binary_log_proba(Z[:, 0])
        return log_q, np.column_stack([1 - t, t]), s if s.ndim == 1 else s[:, g]

    def _margin_outputs(self, g, n_values):
        return np.array([1])  # each label's probability of being present

    def _margin_names(self, g, values):
        return self._summary_outputs(g, None)[0]

    def _separated_name(self, g, value):
        return f"label {shown(self._summary_outputs(g, None)[0][0])}"

    def _statistics_index(self):
        return self.classes_[1:] if self.y_type_ == "binary" else self.classes_

    def _summary_outputs(self, g, free):
        outputs = self.classes_[1:] if self.y_type_ == "binary" else self.classes_[[g]]
        return outputs, 1.0

    def _hard_targets(self, y):
        if np.ndim(y) == 2 and not sp.issparse(y):
            Y = np.asarray(y)
            if Y.shape[1] > 1 and not np.isin(Y, (0, 1)).all():
                return (Y > 0.5).astype(int)
        return y

    def _thresholds(self, n_labels=None):
        """``threshold`` as one value per label, checked."""
        n_labels = self.coef_.shape[0] if n_labels is None else n_labels
        return per_label("threshold", self.threshold, n_labels, 0.0, 1.0, False)

    @dask_aware
    def predict(self, X):
        """Predict labels: the indicator matrix, or class labels for 1-D targets.

        Taken from the numbers of :meth:`predict_proba`: a label is marked when its
        probability is strictly above its threshold; for 1-D labels of three or more
        classes, the most probable class (ties go to the first).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : {ndarray, sparse matrix} of shape (n_samples, n_labels) or (n_samples,)
            0/1 indicator (int) for multi-label models, a CSR matrix when the model was
            fitted on a sparse Y (as ``OneVsRestClassifier``); class labels otherwise.
        """
        check_same_namespace(X, self, "predict")
        proba = self.predict_proba(X)
        xp, _, device = get_namespace_and_device(proba)
        if self.y_type_ == "multiclass":
            return take_labels(self.classes_, xp.argmax(proba, axis=1))
        thresholds = xp.astype(to_device(self._thresholds(), xp, device), proba.dtype)
        if self.y_type_ == "binary":
            return take_labels(self.classes_, xp.astype(proba[:, 1] > thresholds, xp.int64))
        above = xp.astype(proba > thresholds, xp.int64)
        return sp.csr_matrix(to_host(above)) if getattr(self, "sparse_input_", False) else above

    @dask_aware
    def predict_log_proba(self, X):
        """Log-probabilities, computed in log space (finite where ``log(proba)`` is not).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_labels) or (n_samples, n_classes)
            Per-label log-probabilities for multi-label models; for 1-D targets, the
            log-probabilities of ``classes_`` (normalised over classes when K >= 3).
        """
        check_same_namespace(X, self, "predict_log_proba")
        return self._log_proba(as_float64(self.decision_function(X)))  # float64 always

    def _log_proba(self, Z):
        if self.y_type_ == "multilabel-indicator":
            return log_expit(Z)
        if self.y_type_ == "binary":
            return binary_log_proba(Z)
        # One-vs-rest normalisation p_k / sum_j p_j, done in log space so that rows whose
        # sigmoids all underflow still give a distribution.
        return log_softmax(log_expit(Z))
