"""The ``adacm`` command: utilities around the experiments (pretraining, backbones).

Every user-fixable problem ends as one line on stderr and exit code 2 (``UserError``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from adacm.errors import UserError


def _pretrain(args: argparse.Namespace) -> None:
    from adacm.pretrain import SimCLRConfig, pretrain

    meta = pretrain(args.minutes, args.max_steps, SimCLRConfig(model=args.model))
    print(json.dumps({k: meta[k] for k in ("path", "sha256", "steps", "train_minutes")}, indent=1))
    for point in meta["curve"]:
        print(f"  step {point['step']:>5}  {point['minutes']:>6.1f} min  loss {point['loss']:.3f}  probe {point['probe_acc']:.2f}%")


def _backbone(args: argparse.Namespace) -> None:
    from adacm.backbones import cli_dlib_face
    from adacm.paths import cache_dir

    cli_dlib_face(cache_dir())


def _report(args: argparse.Namespace) -> None:
    from adacm.report import update_readme

    print(f"re-rendered {update_readme()} generated blocks in README.md")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adacm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pretrain", help="label-free SimCLR pretraining of a backbone (resumable, cached in ADACM_CACHE)")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of this invocation")
    p.add_argument("--max-steps", type=int, default=2400, help="total steps over all invocations")
    p.set_defaults(func=_pretrain)
    p = sub.add_parser("backbone", help="convert and cache a pretrained backbone (prints path, sha256, parameters)")
    p.add_argument("name", choices=["dlib-face"])
    p.set_defaults(func=_backbone)
    p = sub.add_parser("report", help="re-render the README's generated tables from results/")
    p.set_defaults(func=_report)
    return parser


def run_cli(func: Callable[[], None]) -> None:
    """Run an entry point, turning UserError into one line and exit code 2."""
    try:
        func()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    run_cli(lambda: args.func(args))


if __name__ == "__main__":
    main()
