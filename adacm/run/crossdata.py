"""Cross-dataset evaluation on CK+ (Table 4) and the features Fig. 4 draws.

Checkpoints are too large to commit, so a run trained on the RAF-DB stand-in evaluates on CK+
when it ends and stores what Table 4 and Fig. 4 need in its result: accuracy, a 2-D t-SNE of
the features, and two numbers that quantify the picture (silhouette score and k-NN accuracy
of the features, subject-disjoint).

With the full CK+ tree prepared once as ``ckplus_full.npz`` in the data directory
(``adacm data prepare CK+/ --layout ckplus --classes 7 --out <data>/ckplus_full.npz``: the
first frame of each labelled sequence as neutral plus its last frame, the paper's 636 images),
accuracy is over the seven classes. Otherwise the CK+48 release (``ckplus.npz``) is used; it
holds only peak frames (no neutral), so accuracy is over its six basic expressions, the
prediction taken among those six (contempt images, a class the model never learned, are left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from adacm.data.datasets import array, open_npz, paper_dataset
from adacm.data.streams import resize_images
from adacm.paths import data_dir
from adacm.run.predictions import encode

BASIC = (0, 1, 2, 3, 4, 5)  # surprise, fear, disgust, happiness, sadness, anger
SEVEN = (*BASIC, 6)  # and neutral
FULL = "ckplus_full"  # the original CK+ tree, prepared once (module docstring)


def trained_on_rafdb(dataset: str) -> bool:
    """Runs on RAF-DB or a stand-in for it (FER2013, its CI subset) are Table 4's and Fig. 4's."""
    return paper_dataset(dataset) == "rafdb"


@dataclass(frozen=True)
class CKPlus:
    """The CK+ images a cross-dataset evaluation uses, with subjects (for subject-disjoint folds)."""

    x: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    classes: tuple[int, ...]  # the classes predictions are taken among
    fingerprint: dict[str, str]


def load_ckplus(size: int) -> CKPlus:
    """The paper's 636 images over seven classes if ``ckplus_full.npz`` exists, else CK+48's six basic."""
    root = data_dir()
    name, classes, subject_key = (FULL, SEVEN, "subject") if (root / f"{FULL}.npz").is_file() else ("ckplus", BASIC, "fold")
    npz, _, fp = open_npz(name, root)
    y = array(npz, "y")
    keep = np.isin(y, classes)
    return CKPlus(resize_images(array(npz, "x")[keep], size), y[keep].astype(np.int64), array(npz, subject_key)[keep],
                  classes, fp)


def ckplus_report(probs: torch.Tensor, feats: torch.Tensor, ck: CKPlus, seed: int) -> dict[str, Any]:
    """Accuracy among ``ck.classes``, t-SNE coordinates, silhouette and subject-disjoint 5-NN accuracy."""
    y, classes = ck.y, ck.classes
    among = torch.softmax(torch.log(probs[:, list(classes)].clamp_min(1e-12)), dim=1)  # renormalised over `classes`
    pred = np.asarray(classes)[among.argmax(1).numpy()]
    f = feats.numpy().astype(np.float64)
    knn = cross_val_score(KNeighborsClassifier(5, metric="cosine"), f, y, groups=ck.subjects, cv=GroupKFold(5))
    xy = TSNE(2, perplexity=min(30.0, (len(f) - 1) / 3), init="pca", random_state=seed).fit_transform(f)  # 30 unless tiny
    return {"acc": float((pred == y).mean() * 100), "n": int(len(y)), "classes": list(classes),
            "silhouette": float(silhouette_score(f, y, metric="cosine")), "knn_acc": float(knn.mean() * 100),
            "tsne": np.round(xy, 2).tolist(), "labels": y.tolist(), "predictions": encode(pred, among.max(1).values.numpy())}
