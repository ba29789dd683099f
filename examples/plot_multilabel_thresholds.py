"""
One threshold per label
=======================

Four properties of each handwritten digit (even, greater than 4, prime, a multiple of 3)
are four labels per image, fitted by ``SigmoidMultiLabelClassifier``. Its ``predict``
marks a label when the probability exceeds ``threshold``, 0.5 by default.

Question: is 0.5 the right threshold for every label? The precision-recall curve of each
label on validation images shows where each label's F1 is best (the red star) against
0.5 (the black square): the labels are not equally easy, and their best thresholds
differ (here from about 0.4 to 0.6). Thresholds chosen on the validation split, one per
label, raise the F1 of the test split for the hardest labels.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import f1_score, precision_recall_curve
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmultinomial import SigmoidMultiLabelClassifier

X, digit = load_digits(return_X_y=True)
names = ["even", "> 4", "prime", "multiple of 3"]
Y = np.column_stack(
    [digit % 2 == 0, digit > 4, np.isin(digit, [2, 3, 5, 7]), np.isin(digit, [3, 6, 9])]
).astype(int)
X_fit, X_test, Y_fit, Y_test = train_test_split(X, Y, test_size=0.3, random_state=0)
X_train, X_val, Y_train, Y_val = train_test_split(X_fit, Y_fit, test_size=0.3, random_state=0)

model = make_pipeline(StandardScaler(), SigmoidMultiLabelClassifier(C=0.1)).fit(X_train, Y_train)
val_proba = model.predict_proba(X_val)
thresholds = []
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8), sharey=True)
for j, (ax, name) in enumerate(zip(axes, names)):
    precision, recall, cut = precision_recall_curve(Y_val[:, j], val_proba[:, j])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = np.argmax(f1[:-1])
    thresholds.append(cut[best])
    ax.plot(recall, precision, lw=1.5)
    at_half = np.searchsorted(cut, 0.5)
    ax.plot(recall[at_half], precision[at_half], "ks", label=f"threshold 0.5: F1 {f1[at_half]:.2f}")
    ax.plot(
        recall[best],
        precision[best],
        "r*",
        ms=12,
        label=f"best F1 {f1[best]:.2f}, at threshold {cut[best]:.2f}",
    )
    ax.set_title(name)
    ax.set_xlabel("recall (validation)")
    ax.legend(loc="lower left", fontsize=8)
axes[0].set_ylabel("precision (validation)")

default = f1_score(Y_test, model.predict(X_test), average=None)
model[-1].set_params(threshold=np.array(thresholds))
tuned = f1_score(Y_test, model.predict(X_test), average=None)
for name, t, a, b in zip(names, thresholds, default, tuned):
    print(f"{name:14s} threshold {t:.2f}: test F1 {a:.3f} at 0.5 -> {b:.3f}")
fig.suptitle(
    "Per-label precision and recall: test F1 "
    + ", ".join(f"{n} {a:.2f}->{b:.2f}" for n, a, b in zip(names, default, tuned)),
    fontsize=10,
)
fig.tight_layout()
fig.savefig("plot_multilabel_thresholds.png", dpi=90)
plt.show()
