"""Pilot that picks the `cpu` protocol's backbone (issues 3 and 9).

Runs Baseline, FixMatch and Ada-CM from each backbone variant under the `cpu` protocol and
reports, per variant and label count: final EMA test accuracy, and the last epoch's mask rate
and pseudo-label accuracy (subset I), with a figure of the per-epoch curves in figures/.
A variant is MODEL:INIT[:IMAGE_SIZE[:ITERS_PER_EPOCH]], e.g. dlib_face:face:112:80
(ITERS lets slower backbones get the same wall-clock budget per run).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adacm.cli import run_cli
from adacm.errors import UserError
from adacm.plots import curves_by_variant
from adacm.protocols import get_protocol
from adacm.runner import run_configs

VARIANTS = ["resnet18:scratch", "resnet18:simclr", "dlib_face:face:112"]
METHODS = ["supervised", "fixmatch", "adacm"]


def variant_name(cfg: dict) -> str:
    head = f", head lr ×{cfg['head_lr_mult']:g}" if cfg.get("head_lr_mult", 1.0) != 1.0 else ""
    return f"{cfg['model']}:{cfg['init']}:{cfg['image_size']}px{head}"


def parse_variant(text: str) -> dict:
    parts = text.split(":")
    if len(parts) < 2:
        raise UserError(f"variant {text!r} must look like MODEL:INIT[:IMAGE_SIZE[:ITERS]]")
    out: dict = {"model": parts[0], "init": parts[1]}
    if len(parts) > 2:
        out["image_size"] = int(parts[2])
    if len(parts) > 3:
        out["iters_per_epoch"] = int(parts[3])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="cpu")
    parser.add_argument("--variants", nargs="+", default=VARIANTS)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--labels", nargs="+", type=int, default=[400])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--head-lr-mult", type=float, default=None, help="classifier lr ÷ lr (default: the protocol's)")
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--figure", type=Path, default=Path("figures/pilot"))
    parser.add_argument("--rerun", action="store_true")
    args = parser.parse_args()
    run_cli(lambda: pilot(args))


def pilot(args: argparse.Namespace) -> None:
    protocol = get_protocol(args.protocol)
    configs = [protocol.config("fer2013", m, n, s, head_lr_mult=args.head_lr_mult, **parse_variant(v))
               for v in args.variants for n in args.labels for m in args.methods for s in args.seeds]
    results = run_configs(configs, args.results_dir, "pilot", args.rerun)
    print("| variant | labels | method | test acc (last) | best-val test acc | mask rate (last epoch) | "
          "PL acc subset I (last) | PL acc all (last) | min/run |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        c, last, s = r["config"], r["epochs"][-1], r["summary"]
        fmt = lambda k: f"{last[k]:.2f}" if k in last else "—"  # noqa: E731
        print(f"| {variant_name(c)} | {c['n_labels']} | {c['method']} | {s['test_acc_last']:.2f} | "
              f"{s.get('test_acc_best_val', float('nan')):.2f} | {fmt('mask_rate')} | {fmt('pl_acc_masked')} | "
              f"{fmt('pl_acc_all')} | {r['wall_time_s'] / 60:.1f} |")
    for n in args.labels:
        path = curves_by_variant([r for r in results if r["config"]["n_labels"] == n],
                                 lambda r: variant_name(r["config"]), args.figure.with_name(f"{args.figure.name}_{n}"),
                                 f"Pilot: FER2013, {n} labels, cpu protocol")
        print(f"figure: {path}")


if __name__ == "__main__":
    main()
