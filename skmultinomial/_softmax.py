"""SoftmaxRegressionClassifier: multinomial logistic regression, one class per sample."""

from sklearn.utils.multiclass import type_of_target

from ._base import _LinearNLLClassifier
from ._driver import Problem
from ._loss import SIGMOID, SOFTMAX, binary_log_proba, log_softmax

__all__ = ["SoftmaxRegressionClassifier"]


class SoftmaxRegressionClassifier(_LinearNLLClassifier):
    """Multinomial logistic (softmax) regression fitted by L-BFGS.

    Each sample belongs to exactly one of ``K`` classes. The model is
    ``P(y = k | x) = softmax(W x + b)_k`` and is fitted by minimising the penalised
    cross-entropy (negative log-likelihood)::

        C * sum_i s_i * [logsumexp(z_i) - z_{i, y_i}]  +  1/2 * ||W||_F^2,   z_i = W x_i + b

    where ``s_i`` is the sample weight times the class weight of ``y_i`` and the
    intercept ``b`` is not penalised. This is the objective of scikit-learn's
    ``LogisticRegression(C=C)``, and the fit reaches the same optimum.

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
        Weight of each class, ``{class_label: weight}``, multiplied into the sample
        weights. ``"balanced"`` uses ``n_samples / (n_classes * np.bincount(y))``, the
        counts weighted by ``sample_weight`` (as in scikit-learn >= 1.9).
    tol : float, default=1e-4
        L-BFGS stops when the largest entry of the gradient of the objective divided by
        ``C * sum_i s_i``, taken w.r.t. the weights of the standardised features (and the
        intercepts), falls below ``tol``. On standardised data this is scikit-learn's
        ``gtol`` convention; on raw data it does not depend on the features' units. It
        also stops when an iteration lowers that objective by less than 64 eps (relative;
        for float32 data, less than its rounding noise, eps32 / sqrt(n_samples)).
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations; a ``ConvergenceWarning`` is raised when it is
        reached. scikit-learn's 100 is too few for raw data sets such as breast cancer
        (140 here at ``tol=1e-4``); iterations cost little, and a fit that converges
        stops at ``tol`` whatever the budget.
    warm_start : bool, default=False
        Start from the previous solution when the shapes agree, else from zeros.
    verbose : int, default=0
        If positive, print the objective and the largest gradient entry at each
        iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights, in the dtype of the training data (float32 or float64).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_iter_ : int
        Number of L-BFGS iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
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
    >>> model.predict_proba(X[:1]).sum().round(12)
    np.float64(1.0)
    """

    def _check_target_kind(self, y, y_shape):
        if len(y_shape) == 2 and y_shape[1] > 1:
            raise ValueError(
                "SoftmaxRegressionClassifier fits exactly one class per sample, but y is "
                f"2-D of shape {y_shape} ({type_of_target(y)}). For samples that "
                "carry several labels at once, use SigmoidMultiLabelClassifier; for one "
                "label per sample, pass y as a 1-D array."
            )

    def _encode_targets(self, y, sample_weight):
        codes = self._encode_classes(y)
        s = sample_weight * self._class_weight_per_sample(y, codes, sample_weight)
        if self.classes_.size == 2:
            T = codes.astype(sample_weight.dtype)[None, :]
            return Problem(T, s, SIGMOID, 1, [""])
        return Problem(codes, s, SOFTMAX, self.classes_.size, [""])

    def _n_iter_attribute(self, n_iter):
        return int(n_iter[0])

    def predict_log_proba(self, X):
        """Log of the class probabilities, computed in log space.

        Stays finite where ``np.log(predict_proba(X))`` would give ``-inf``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        Z = self.decision_function(X)
        if Z.ndim == 1:
            return binary_log_proba(Z)
        return log_softmax(Z)
