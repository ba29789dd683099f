"""
Choosing C by cross-validation
==============================

Question: which C, and does every label of a multi-label model want the same one?

Left: ``SoftmaxRegressionCV`` on the digits (10 classes, 64 standardised pixels). Each
fold fits the path of ``Cs`` from the strongest penalty to the weakest, every fit
starting from the previous one, and scores each fit by the held-out log loss; ``C_`` is
the C of the best score summed over the folds. Right: ``SigmoidMultiLabelCV`` on
properties of the same images (the digit is below 1, 2, 3, 5, 7 or 9; it is prime),
positive in 10% to 90% of them; each label gets its own C, shown against how often the
label is positive. They do not all want the same penalty: how well the pixels separate
a label (a zero from the other digits, say) matters as well as its rate.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from skmultinomial import SigmoidMultiLabelCV, SoftmaxRegressionCV

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
Cs = np.logspace(-3, 2, 11)

softmax = SoftmaxRegressionCV(Cs=Cs, cv=StratifiedKFold(3, shuffle=True, random_state=0))
softmax.fit(X, y)
best_loss = -softmax.scores_.mean(axis=0).max()
print(f"softmax: C_ = {softmax.C_:.3g}, held-out log loss {best_loss:.4f}")

below = [1, 2, 3, 5, 7, 9]
names = [f"< {k}" for k in below] + ["prime"]
Y = np.column_stack([y[:, None] < below, np.isin(y, [2, 3, 5, 7])]).astype(int)
sigmoid = SigmoidMultiLabelCV(Cs=Cs, cv=KFold(3, shuffle=True, random_state=0)).fit(X, Y)
for name, C in zip(names, sigmoid.C_):
    print(f"label {name:>4}: C_ = {C:.3g}")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
losses = -softmax.scores_  # (n_folds, n_Cs)
for k, fold in enumerate(losses):
    left.semilogx(Cs, fold, color="0.6", lw=1, label="each fold" if k == 0 else None)
left.semilogx(Cs, losses.mean(axis=0), color="C0", lw=2, marker="o", ms=3, label="mean")
left.axvline(softmax.C_, color="k", ls="--", lw=1, label=f"C_ = {softmax.C_:.3g}")
left.set_yscale("log")
left.set_xlabel("C (inverse penalty)")
left.set_ylabel("held-out log loss (log scale)")
left.set_title("SoftmaxRegressionCV: the path of each fold")
left.legend()

rate = Y.mean(axis=0)
right.scatter(rate, sigmoid.C_, color="C1", zorder=3)
for name, r, C in zip(names, rate, sigmoid.C_):
    right.annotate(name, (r, C), textcoords="offset points", xytext=(5, 3), fontsize=8)
right.set_yscale("log")
right.set_ylim(Cs[0] / 2, Cs[-1] * 2)
right.set_xlim(0, 1)
right.set_xlabel("positive rate of the label")
right.set_ylabel("chosen C of the label (log scale)")
right.set_title("SigmoidMultiLabelCV: one C per label")
fig.tight_layout()
fig.savefig("plot_cv_path.png", dpi=90)
plt.show()
