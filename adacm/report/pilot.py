"""The backbone pilot: which start the `cpu` protocol's runs fine-tune from.

A *variant* is MODEL:INIT[:IMAGE_SIZE[:HEAD_LR_MULT]], e.g. ``dlib_face:face:112:10`` (the
classifier's learning rate ÷ the rest's; 1 by default). The pilot runs Baseline, FixMatch and
Ada-CM from each variant on FER2013 under the `cpu` schedule; ``experiments/pilot.py`` trains
and ``notebooks/pilot.ipynb`` redraws its figures from the stored runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adacm.errors import UserError
from adacm.report.plots import curves_by_variant
from adacm.report.tables import PILOT_METHODS, matches, variant_name
from adacm.run.config import RunConfig
from adacm.run.protocols import get_protocol
from adacm.run.store import load_results

VARIANTS = ["resnet18:scratch:48", "resnet18:scratch:48:10", "resnet18:simclr:48", "resnet18:simclr:48:10",
            "dlib_face:face:112", "dlib_face:face:112:10"]
METHODS = list(PILOT_METHODS)
DATASET = "fer2013"


def parse_variant(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) < 2:
        raise UserError(f"variant {text!r} must look like MODEL:INIT[:IMAGE_SIZE[:HEAD_LR_MULT]]")
    out: dict[str, Any] = {"model": parts[0], "init": parts[1]}
    if len(parts) > 2:
        out["image_size"] = int(parts[2])
    out["head_lr_mult"] = float(parts[3]) if len(parts) > 3 else 1.0
    return out


def pilot_configs(protocol: str, variants: list[str], methods: list[str], labels: list[int],
                  seeds: list[int]) -> list[RunConfig]:
    proto = get_protocol(protocol)
    return [proto.config(DATASET, m, n, s, **parse_variant(v))
            for v in variants for n in labels for m in methods for s in seeds]


def stored_pilot_runs(results_dir: Path, protocol: str, n_labels: int, variants: list[str] = VARIANTS,
                      methods: list[str] = METHODS) -> list[dict[str, Any]]:
    """Every stored run, any seed, of these variants and methods at ``n_labels`` (wherever an
    experiment stored it: the default variant's runs are Table 2's)."""
    wanted = [{k: v for k, v in cfg.to_dict().items() if k != "seed"}
              for cfg in pilot_configs(protocol, variants, methods, [n_labels], [0])]
    return [r for r in load_results(results_dir, protocol) if any(matches(r, w) for w in wanted)]


def pilot_figure(runs: list[dict[str, Any]], n_labels: int, path: Path) -> Path:
    """Per-epoch test accuracy, mask rate and pseudo-label accuracy, one column per variant."""
    return curves_by_variant(runs, lambda r: variant_name(r["config"]), path,
                             f"Pilot: FER2013, {n_labels} labels, cpu protocol (mean over the seeds run)")
