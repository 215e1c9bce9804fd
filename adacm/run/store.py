"""The results store: one JSON per run under ``results/<protocol>/<experiment>/``.

A run is found again by its config key (file names end in ``_<key>.json``), whatever
experiment stored it, so a Table 1 run that Table 2 also needs is trained once. Files are
written atomically; a half-written file is never visible to readers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adacm.errors import UserError
from adacm.paths import atomic_write_bytes
from adacm.run.config import RunConfig

#: the summary metrics a stored result holds, and what each measures
METRICS = {
    "test_acc_last": "test accuracy at the last epoch",
    "test_acc_best_val": "test accuracy at the best-validation epoch",
    "test_acc_best_test_oracle": "best test accuracy over epochs (the paper's practice: selected on the test set)",
    "ckplus_acc": "CK+ accuracy of the final EMA model (six basic expressions), trained on the RAF-DB stand-in",
    "ckplus_silhouette": "silhouette score (cosine) of the final model's CK+ features",
    "ckplus_knn_acc": "subject-disjoint 5-NN accuracy of the final model's CK+ features",
}


def result_path(results_dir: Path, experiment: str, cfg: RunConfig) -> Path:
    return results_dir / cfg.protocol / experiment / f"{cfg.run_name()}.json"


def check_results_dir(results_dir: Path) -> None:
    if results_dir.exists() and not results_dir.is_dir():
        raise UserError(f"--results-dir {results_dir} is a file, not a folder: name a folder for the results store")


def read_result(path: Path) -> dict[str, Any]:
    """A stored result; a file that is not one is named, with what to do, before anything trains."""
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is not a readable result ({exc}): restore it (`git checkout -- {path}`) or delete "
                        "it, and its run counts as not stored and is trained again") from exc
    if not isinstance(result, dict) or not {"key", "config", "summary"} <= set(result):
        raise UserError(f"{path} is not a result (no key, config or summary): restore it (`git checkout -- {path}`) "
                        "or delete it, and its run counts as not stored and is trained again")
    return result


def find_result(results_dir: Path, cfg: RunConfig) -> dict[str, Any] | None:
    """The stored result with the same config key, if any."""
    for path in sorted((results_dir / cfg.protocol).glob(f"*/*_{cfg.key()}.json")):
        result = read_result(path)
        if result.get("key") == cfg.key():
            return result
    return None


def save_result(results_dir: Path, experiment: str, result: dict[str, Any]) -> Path:
    cfg = RunConfig.from_dict(result["config"])
    path = result_path(results_dir, experiment, cfg)
    atomic_write_bytes(path, (json.dumps(result, indent=1) + "\n").encode())
    return path


def load_results(results_dir: Path, protocol: str, experiment: str | None = None) -> list[dict[str, Any]]:
    """Every stored result of a protocol (optionally of one experiment), each run once: a run
    that two experiments share may be stored under both."""
    pattern = f"{experiment}/*.json" if experiment else "*/*.json"
    runs = (read_result(p) for p in sorted((results_dir / protocol).glob(pattern)))
    return list({r["key"]: r for r in runs}.values())
