"""The backbone pilot: which start the `cpu` protocol's runs fine-tune from.

A *variant* is MODEL:INIT[:IMAGE_SIZE[:HEAD_LR_MULT]], e.g. ``dlib_face:face:112:10`` (the
classifier's learning rate ÷ the rest's; 1 by default). The pilot runs Baseline, FixMatch and
Ada-CM from each variant on FER2013 under the `cpu` schedule; ``experiments/pilot.py`` trains
and ``notebooks/pilot.ipynb`` redraws its figures from the stored runs.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from adacm.errors import UserError
from adacm.report.plots import curves_by_variant
from adacm.report.tables import matches, mean_std, summarise
from adacm.run.config import RunConfig
from adacm.run.protocols import get_protocol
from adacm.run.store import load_results

VARIANTS = ["resnet18:scratch:48", "resnet18:scratch:48:10", "resnet18:simclr:48", "resnet18:simclr:48:10",
            "dlib_face:face:112", "dlib_face:face:112:10"]
METHODS = ["supervised", "fixmatch", "adacm"]
DATASET = "fer2013"


def parse_variant(text: str) -> dict[str, Any]:
    """The config fields of a variant written MODEL:INIT[:IMAGE_SIZE[:HEAD_LR_MULT]] (the command line's form)."""
    parts = text.split(":")
    if len(parts) < 2:
        raise UserError(f"variant {text!r} must look like MODEL:INIT[:IMAGE_SIZE[:HEAD_LR_MULT]]")
    out: dict[str, Any] = {"model": parts[0], "init": parts[1]}
    if len(parts) > 2:
        out["image_size"] = int(parts[2])
    out["head_lr_mult"] = float(parts[3]) if len(parts) > 3 else 1.0
    return out


def variant_name(cfg: dict[str, Any]) -> str:
    """A stored run's variant as tables and figures name it: model:init:size[, head lr ×k]."""
    head = f", head lr ×{cfg['head_lr_mult']:g}" if cfg.get("head_lr_mult", 1.0) != 1.0 else ""
    return f"{cfg['model']}:{cfg['init']}:{cfg['image_size']}px{head}"


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


def pilot_summary(results: list[dict[str, Any]]) -> str:
    """Per variant, label count and method, mean ± std over seeds: final test accuracy and the last
    epoch's mask rate and pseudo-label accuracy (subset I), the numbers the backbone is chosen on."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(variant_name(r["config"]), r["config"]["n_labels"], r["config"]["method"])].append(r)
    lines = ["| variant | labels | method | seeds | test acc (last) | mask rate (last epoch) | "
             "PL acc, subset I (last epoch) |", "|" + "---|" * 7]
    order = {m: i for i, m in enumerate(METHODS)}
    for (variant, n, method), runs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 9))):
        def last(key: str) -> str:
            values = [r["epochs"][-1][key] * 100 for r in runs if key in r["epochs"][-1]]
            return f"{mean_std(summarise(values))}%" if values else "—"

        acc = summarise([r["summary"]["test_acc_last"] for r in runs])
        lines.append(f"| {variant} | {n} | {method} | {acc.n} | {mean_std(acc)} | {last('mask_rate')} | "
                     f"{last('pl_acc_masked')} |")
    return "\n".join(lines)


def pilot_table(results: list[dict[str, Any]]) -> str:
    """One row per run: final accuracies, and the last epoch's mask rate and pseudo-label accuracy."""
    lines = ["| variant | labels | method | seed | test acc (last) | test acc (best val) | mask rate (last epoch) | "
             "PL acc, subset I (last epoch) | PL acc, all (last epoch) | min/run |", "|" + "---|" * 10]
    order = {m: i for i, m in enumerate(METHODS)}
    for r in sorted(results, key=lambda r: (variant_name(r["config"]), r["config"]["n_labels"],
                                            order.get(r["config"]["method"], 9), r["config"]["seed"])):
        c, last, summary = r["config"], r["epochs"][-1], r["summary"]

        def fmt(key: str) -> str:
            return f"{last[key] * 100:.2f}%" if key in last else "—"

        lines.append(f"| {variant_name(c)} | {c['n_labels']} | {c['method']} | {c['seed']} | {summary['test_acc_last']:.2f} | "
                     f"{summary.get('test_acc_best_val', float('nan')):.2f} | {fmt('mask_rate')} | "
                     f"{fmt('pl_acc_masked')} | {fmt('pl_acc_all')} | {r['wall_time_s'] / 60:.1f} |")
    return "\n".join(lines)
