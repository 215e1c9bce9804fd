"""The ``adacm`` command: utilities around the experiments (pretraining, backbones).

Every user-fixable problem ends as one line on stderr and exit code 2 (``UserError``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from adacm.data.readers import count_table, inspect_dataset, read_dataset, write_npz
from adacm.errors import UserError, run_cli
from adacm.models import FIXED_INITS
from adacm.report.claims import claims_report
from adacm.report.documents import update_documents
from adacm.report.regimes import regimes_report
from adacm.run.numerics import CHOICES
from adacm.run.pretrain import SimCLRConfig, pretrain
from adacm.run.protocols import CPU_SIMCLR_STEPS, PROTOCOLS


def _pretrain(args: argparse.Namespace) -> None:
    meta = pretrain(args.minutes, args.max_steps, SimCLRConfig(model=args.model), precision=args.precision)
    shown = ("path", "record", "sha256", "steps", "train_minutes") if meta["finished"] else \
        ("steps", "max_steps", "checkpoint", "train_minutes")
    print(json.dumps({k: meta[k] for k in shown}, indent=1))
    if not meta["finished"]:
        print("out of time before the last step: run it again to continue from the checkpoint")
    for point in meta["curve"]:
        print(f"  step {point['step']:>5}  {point['minutes']:>6.1f} min  loss {point['loss']:.3f}  probe {point['probe_acc']:.2f}%")


def _backbone(args: argparse.Namespace) -> None:
    fixed = next(f for f in FIXED_INITS.values() if f.command == args.name)
    state, digest = fixed.fetch()
    print(f"path: {fixed.path()}\nsha256: {digest}\nparameters: {sum(t.numel() for t in state.values()):,}")


def _claims(args: argparse.Namespace) -> None:
    if args.regimes:
        print(regimes_report(args.results_dir, args.protocol))
    else:
        print(claims_report(args.results_dir, args.protocol, args.table, args.format))


def _report(args: argparse.Namespace) -> None:
    print(f"re-rendered {update_documents()} generated blocks in README.md and docs/")


def _data_check(args: argparse.Namespace) -> None:
    report = inspect_dataset(args.path, args.layout, classes=args.classes)
    print(f"layout: {report.layout}  ({args.path})")
    print(count_table(report.dataset))
    for note in report.notes:
        print(f"note: {note}")
    print(f"problems: {len(report.problems) or 'none'}")
    for problem in report.problems[:50]:
        print(f"  {problem}")
    if len(report.problems) > 50:
        print(f"  ... and {len(report.problems) - 50} more")
    copies = sum(len(group) for group in report.duplicates)
    print(f"exact duplicates (same decoded pixels): {len(report.duplicates)} groups, {copies} images")
    for group in report.duplicates[:20]:
        print(f"  {' = '.join(group)}")
    for name, digest in report.dataset.fingerprint.items():
        print(f"fingerprint: {name} sha256 {digest}")
    if report.problems:
        raise UserError(f"{len(report.problems)} problem(s) in {args.path}, listed above: fix them before "
                        "`adacm data prepare`")


def _data_prepare(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.suffix != ".npz":  # checked before reading, which can take hours
        raise UserError(f"--out {out}: the cache must end in .npz (the suite loads <name>.npz)")
    data = read_dataset(args.path, args.layout, size=args.size, grey=not args.rgb, classes=args.classes,
                        progress=True)
    digest = write_npz(data, out)
    print(count_table(data))
    print(f"wrote {args.out} (sha256 {digest}) from {', '.join(f'{k} {v}' for k, v in data.fingerprint.items())}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adacm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pretrain", help="label-free SimCLR pretraining of a backbone (resumable, cached in ADACM_CACHE)")
    p.add_argument("--model", default="resnet18")
    p.add_argument("--minutes", type=float, default=float("inf"),
                   help="wall-clock budget of this invocation (default: none; it resumes where it stopped)")
    p.add_argument("--max-steps", type=int, default=CPU_SIMCLR_STEPS,
                   help=f"total steps over all invocations (default {CPU_SIMCLR_STEPS}: the cpu protocol's, ~1 h)")
    p.add_argument("--precision", choices=CHOICES, help="fp32, bf16 or auto (default: ADACM_PRECISION, else auto: "
                                                        "the faster here); recorded in the build's record")
    p.set_defaults(func=_pretrain)
    p = sub.add_parser("backbone", help="convert or fetch, and cache, a pretrained backbone (prints path, sha256, "
                                        "parameters)")
    p.add_argument("name", choices=[f.command for f in FIXED_INITS.values()])
    p.set_defaults(func=_backbone)
    p = sub.add_parser("claims", help="the verdict on each of the paper's comparative claims: paired differences "
                                      "over seeds, CIs, Holm-adjusted p-values, seeds needed")
    p.add_argument("--protocol", default="cpu", choices=sorted(PROTOCOLS))
    p.add_argument("--table", type=int, choices=(1, 2, 3), help="only this paper table's claims (the family for "
                                                                 "the adjustment stays every claim)")
    p.add_argument("--format", default="markdown", choices=("markdown", "json"))
    p.add_argument("--regimes", action="store_true", help="Table 2's claims in each regime (the protocol's named "
                                                          "variants: backbone, schedule) as a matrix, whether a "
                                                          "regime changes each claim's gap (paired by seed against "
                                                          "the default), and each regime's operating point")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="results store (default: results/)")
    p.set_defaults(func=_claims)
    p = sub.add_parser("report", help="re-render the generated tables of README.md and docs/ from results/")
    p.set_defaults(func=_report)
    data = sub.add_parser("data", help="read datasets in their owners' layouts (RAF-DB, AffectNet, SFEW, CK+, FER2013)")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    check = data_sub.add_parser("check", help="counts per split and class, unreadable files, exact duplicates, "
                                               "fingerprint")
    prepare = data_sub.add_parser("prepare", help="write a compact .npz cache in the suite's format")
    for p, func in ((check, _data_check), (prepare, _data_prepare)):
        p.add_argument("path", help="the dataset's top folder, as its owners distribute it")
        p.add_argument("--layout", help="rafdb, affectnet, affectnet_npy, sfew, ckplus, ckplus48, fer2013, ferplus "
                                        "or folders (default: inferred)")
        p.add_argument("--classes", type=int, choices=(7, 8), help="7 drops contempt (default 8; CK+: 7, the paper's)")
        p.set_defaults(func=func)
    prepare.add_argument("--out", required=True, help="the .npz file to write")
    prepare.add_argument("--size", type=int, choices=(48, 224), default=48)
    prepare.add_argument("--rgb", action="store_true", help="RGB [N,size,size,3] instead of grey")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    run_cli(lambda: args.func(args))


if __name__ == "__main__":
    main()
