"""Pilot that picks the `cpu` protocol's backbone (issues 3 and 9).

Runs Baseline, FixMatch and Ada-CM from each backbone variant under the `cpu` protocol and
reports, per variant and label count: final EMA test accuracy, and the last epoch's mask rate
and pseudo-label accuracy (subset I), with a figure of the per-epoch curves in figures/.
A variant is MODEL:INIT[:IMAGE_SIZE[:HEAD_LR_MULT]], e.g. dlib_face:face:112:10 (the
classifier's learning rate ÷ the rest's; 1 by default).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adacm.cli import run_cli
from adacm.errors import UserError
from adacm.plots import curves_by_variant
from adacm.protocols import Protocol, get_protocol
from adacm.results import load_results
from adacm.runner import run_configs
from adacm.tables import matches, pilot_summary, pilot_table, variant_name

VARIANTS = ["resnet18:scratch:48", "resnet18:simclr:48", "resnet18:simclr:48:10", "dlib_face:face:112",
            "dlib_face:face:112:10"]
METHODS = ["supervised", "fixmatch", "adacm"]


def parse_variant(text: str) -> dict:
    parts = text.split(":")
    if len(parts) < 2:
        raise UserError(f"variant {text!r} must look like MODEL:INIT[:IMAGE_SIZE[:HEAD_LR_MULT]]")
    out: dict = {"model": parts[0], "init": parts[1]}
    if len(parts) > 2:
        out["image_size"] = int(parts[2])
    out["head_lr_mult"] = float(parts[3]) if len(parts) > 3 else 1.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="cpu")
    parser.add_argument("--variants", nargs="+", default=VARIANTS)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--labels", nargs="+", type=int, default=[400])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--figure", type=Path, default=Path("figures/pilot"))
    parser.add_argument("--rerun", action="store_true")
    args = parser.parse_args()
    run_cli(lambda: pilot(args))


def pilot(args: argparse.Namespace) -> None:
    protocol = get_protocol(args.protocol)
    configs = [protocol.config("fer2013", m, n, s, **parse_variant(v))
               for v in args.variants for n in args.labels for m in args.methods for s in args.seeds]
    results = run_configs(configs, args.results_dir, "pilot", args.rerun)
    print(pilot_table(results))
    for n in args.labels:
        shown = stored_pilot_runs(protocol, args, n)
        print(pilot_summary(shown))
        path = curves_by_variant(shown, lambda r: variant_name(r["config"]),
                                 args.figure.with_name(f"{args.figure.name}_{n}"),
                                 f"Pilot: FER2013, {n} labels, cpu protocol (mean over the seeds run)")
        print(f"figure: {path}")


def stored_pilot_runs(protocol: Protocol, args: argparse.Namespace, n_labels: int) -> list[dict]:
    """Every stored run, any seed, of a pilot variant (the default ones and those asked now) at
    ``n_labels``: re-running one variant redraws the whole figure instead of a figure of that variant alone."""
    configs = [protocol.config("fer2013", m, n_labels, 0, **parse_variant(v))
               for v in dict.fromkeys(VARIANTS + args.variants) for m in args.methods]
    wanted = [{k: v for k, v in cfg.to_dict().items() if k != "seed"} for cfg in configs]
    return [r for r in load_results(args.results_dir, args.protocol) if any(matches(r, w) for w in wanted)]


if __name__ == "__main__":
    main()
