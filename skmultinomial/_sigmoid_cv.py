"""SigmoidMultiLabelCV: one sigmoid per label, each label's C chosen by cross-validation."""

import copy

import numpy as np
import scipy.sparse as sp

from ._cv import CrossValidatedC, parameter_constraints
from ._sigmoid import SigmoidMultiLabelClassifier
from .metrics import binary_cross_entropy_scorer

__all__ = ["SigmoidMultiLabelCV"]


class SigmoidMultiLabelCV(CrossValidatedC, SigmoidMultiLabelClassifier):
    """Multi-label logistic regression with each label's C chosen by cross-validation.

    The model and its objective are those of
    :class:`~skmultinomial.SigmoidMultiLabelClassifier`, with a C per label::

        C_l * sum_i s_il * [log(1 + exp(z_il)) - t_il z_il]  +  1/2 * ||w_l||^2

    For each fold, the training rows are fitted at every C of ``Cs`` in turn (all
    labels at once, each label's fit starting from its solution at the previous C), and
    every fit is scored on the fold's held-out rows, label by label. Each label gets the
    C of its best score summed over the folds (a rare label may want a stronger penalty
    than a common one); with ``refit=True`` each label is then fitted on all the data at
    its C, starting from the folds' mean coefficients there. This is what
    ``OneVsRestClassifier(LogisticRegressionCV)`` does, one path per label per fold,
    and on the same folds it chooses the same C for every label with the same scores.

    The targets are encoded once, on all the data (the labels, and ``"balanced"``
    weights, of the whole data set). Label smoothing, class and positive weights shape
    every fit; scores compare the probabilities with the targets as given.

    Parameters
    ----------
    Cs : int or array-like of shape (n_Cs,), default=10
        The path: an int gives ``np.logspace(-4, 4, Cs)``; or the Cs themselves, fitted
        in the order given (``np.inf`` fits without penalty).
    cv : int, cross-validation generator or iterable, default=None
        The folds: None is 5, an int that many folds (plain ``KFold`` for a 2-D ``Y``,
        stratified for 1-D labels); or any splitter or iterable of ``(train, test)``
        index arrays. With metadata routing enabled, ``groups`` given to ``fit`` reach
        the splitter.
    scoring : str or callable, default=None
        How each label is scored. None: minus the mean binary cross-entropy of the
        label's probability against its held-out targets (0/1 or soft), weighted by
        ``sample_weight``, computed in log space (``"neg_log_loss"`` of that label).
        Else any scikit-learn scorer, given each label's model as a binary classifier
        of classes ``[0, 1]`` and the label's column, as
        ``OneVsRestClassifier(LogisticRegressionCV(scoring=...))`` gives it; it is given
        ``sample_weight``, or with metadata routing what it requests.
    refit : bool, default=True
        Fit each label on all the data at its C. If False, each label's model is the
        mean over the folds of its coefficients at its C.
    n_jobs : int, default=None
        Folds fitted in parallel, in joblib's default backend (worker processes) or the
        one ``joblib.parallel_config`` sets; None is one at a time.
    fit_intercept : bool, default=True
        As for :class:`~skmultinomial.SigmoidMultiLabelClassifier`, for every fit.
    class_weight : dict, list of dict or "balanced", default=None
        As for :class:`~skmultinomial.SigmoidMultiLabelClassifier`, for every fit.
    pos_weight : float, array-like of shape (n_labels,) or "balanced", default=None
        As for :class:`~skmultinomial.SigmoidMultiLabelClassifier`, for every fit.
    label_smoothing : float in [0, 1), default=0.0
        As for :class:`~skmultinomial.SigmoidMultiLabelClassifier`, for every fit.
    threshold : float or array-like of shape (n_labels,), default=0.5
        As for :class:`~skmultinomial.SigmoidMultiLabelClassifier`, for every fit.
    cov_type : {"nonrobust", "robust"}, default=None
        As for :class:`~skmultinomial.SigmoidMultiLabelClassifier`: computed for the
        refitted model, each label at its C (it needs ``refit=True``).
    tol : float, default=1e-4
        Each label's gradient test (see ``SoftmaxRegressionCV``): ``tol`` for the
        first fit of a path, which starts from zero; relative for the warm-started
        fits after it and for the refit.
    max_iter : int, default=1000
        As for :class:`~skmultinomial.SigmoidMultiLabelClassifier`, for every fit.
    verbose : int, default=0
        As for :class:`~skmultinomial.SigmoidMultiLabelClassifier`, for every fit.

    Attributes
    ----------
    Cs_ : ndarray of shape (n_Cs,)
        The Cs of the path.
    C_ : ndarray of shape (n_labels,)
        The C chosen for each label (or class, for 1-D labels of 3 or more classes).
    scores_ : ndarray of shape (n_labels, n_folds, n_Cs)
        Each label's score in each fold at each C (greater is better).
    coefs_paths_ : ndarray of shape (n_labels, n_folds, n_Cs, n_features + 1)
        Each label's coefficients in each fold at each C, the intercept last (without
        it when ``fit_intercept=False``).
    n_iter_ : ndarray of shape (n_labels, n_folds, n_Cs)
        L-BFGS iterations of each label's fits along the path.
    classes_, y_type_, sparse_input_, coef_, intercept_, loss_curve_, cov_params_, \
n_features_in_, feature_names_in_
        Those of the refitted model (see
        :class:`~skmultinomial.SigmoidMultiLabelClassifier`); with ``refit=False``,
        ``coef_`` and ``intercept_`` are the folds' means, and there is no
        ``loss_curve_``.

    See Also
    --------
    SigmoidMultiLabelClassifier : The model at a given C.
    SoftmaxRegressionCV : Exactly one class per sample.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from skmultinomial import SigmoidMultiLabelCV
    >>> X, Y = make_multilabel_classification(n_samples=300, n_classes=3, random_state=4)
    >>> clf = SigmoidMultiLabelCV(Cs=[0.01, 0.1, 1.0]).fit(X, Y)
    >>> clf.C_.tolist()  # one C per label
    [0.1, 0.1, 0.01]
    >>> clf.scores_.shape, clf.predict(X[:2]).shape
    ((3, 5, 3), (2, 3))
    """

    _model_class = SigmoidMultiLabelClassifier
    _default_scorer = binary_cross_entropy_scorer
    _parameter_constraints: dict = parameter_constraints(SigmoidMultiLabelClassifier)

    def __init__(
        self,
        *,
        Cs=10,
        cv=None,
        scoring=None,
        refit=True,
        n_jobs=None,
        fit_intercept=True,
        class_weight=None,
        pos_weight=None,
        label_smoothing=0.0,
        threshold=0.5,
        cov_type=None,
        tol=1e-4,
        max_iter=1000,
        verbose=0,
    ):
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.pos_weight = pos_weight
        self.label_smoothing = label_smoothing
        self.threshold = threshold
        self.cov_type = cov_type
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose

    def _group_views(self, model, y):
        """Each label's model as a binary classifier of classes [0, 1], and its column."""
        Y = _label_columns(model, y)
        thresholds = model._thresholds()
        views = []
        for label in range(Y.shape[1]):
            view = copy.copy(model)
            view.coef_ = model.coef_[label : label + 1]
            view.intercept_ = model.intercept_[label : label + 1]
            view.classes_, view.y_type_, view.sparse_input_ = np.array([0, 1]), "binary", False
            view.threshold = float(thresholds[label])
            views.append((view, Y[:, label]))
        return views


def _label_columns(model, y):
    """The targets of each label, shape (n_samples, n_labels): 0/1 or probabilities."""
    if model.y_type_ == "multilabel-indicator":
        return y.toarray() if sp.issparse(y) else np.asarray(y)
    y = np.asarray(y)
    y = y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y
    if model.y_type_ == "binary":
        return (y == model.classes_[1]).astype(int)[:, None]
    return (y[:, None] == model.classes_).astype(int)
