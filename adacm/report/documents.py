"""Generated blocks of README.md and docs/*.md: tables rendered from the stored results, never typed by hand.

A block looks like::

    <!-- generated: {"protocol": "cpu", "methods": [...], "columns": [["fer2013", 100]], ...} -->
    ...table...
    <!-- /generated -->

``adacm report`` re-renders every block from ``results/``; a test checks that every document is
up to date, so every number in it was produced by the code on the data it names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from adacm.paths import REPO_ROOT
from adacm.report.claims import claims_report
from adacm.report.pilot import pilot_summary, pilot_table
from adacm.report.precision import stored_arms, study_report
from adacm.report.regimes import contrasts_report, regimes_report
from adacm.report.sweeps import sweep_base, sweep_points, sweep_report
from adacm.report.tables import (
    default_backbone,
    markdown_table,
    matches,
    metrics_table,
    paper_layout,
)
from adacm.run.machine import machine_kind
from adacm.run.store import load_results

BLOCK = re.compile(r"(<!-- generated: (.+?) -->\n)(.*?)(<!-- /generated -->)", flags=re.S)


def select(spec: dict[str, Any], results_dir: Path, where: dict[str, Any] | str | None = None) -> list[dict[str, Any]]:
    results = load_results(results_dir, spec["protocol"], spec.get("experiment"))
    where = spec.get("where", {}) if where is None else where
    if where == "default":  # the protocol's default runs: no variant, no sweep, no ablation of the trainer
        where = default_backbone(spec["protocol"])
    return [r for r in results if matches(r, where)]


def saves_or_costs(net_seconds: float) -> str:
    """A net saving in seconds in words: 'saves 12 s', or 'costs 39 s' where it is negative."""
    return f"{'saves' if net_seconds > 0 else 'costs'} {abs(net_seconds):.0f} s"


def bench_table(results_dir: Path) -> str:
    """Every stored ``python -m adacm.studies.bench`` report: the machine, images/s, the two ratios, and the
    suite's numerics and the other precisions' speeds where measured."""
    lines = ["| date | machine | size | suite (numerics) | official | ceiling (fastest numerics) | suite/official | "
             "suite/ceiling | other measurements |", "|" + "---|" * 9]
    for path in sorted((results_dir / "bench").glob("bench_*.json")):
        report = json.loads(path.read_text())
        kind = machine_kind(report["machine"]) if "machine" in report else f"{report['cpu_model']} (not recorded)"
        for size, r in report["images_per_s"].items():
            numerics = r.get("suite numerics", {"precision": "bf16", "channels_last": True})
            ceilings = {k.removeprefix("ceiling "): v for k, v in r.items() if k.startswith("ceiling ")}
            fastest = f" ({max(ceilings, key=ceilings.__getitem__)})" if ceilings else " (bf16/channels_last)"
            others = ", ".join(f"{k.removeprefix('suite ')} {v:.0f}" for k, v in r.items()
                               if k.startswith("suite ") and isinstance(v, float))
            if "compile seconds" in r:
                others += (f" (compiling {r['compile seconds']:.0f} s; over a whole `cpu` run it "
                           f"{saves_or_costs(r['compile net seconds per run'])})")
            others = others or "—"
            lines.append(f"| {report['date'][:16]} | {kind} | {size} px | {r['suite']:.0f} "
                         f"({numerics['precision']}{', channels_last' if numerics['channels_last'] else ''}) | "
                         f"{r['official']:.0f} | {r['ceiling']:.0f}{fastest} | {r['suite/official']:.2f} | "
                         f"{r['suite/ceiling']:.2f} | {others} |")
    return "\n".join(lines)


def record_date(path: Path) -> str:
    """The time a bench record's file name carries (``…_YYYYmmdd-HHMMSS.json``), as YYYY-mm-ddTHH:MM."""
    return re.sub(r".*_(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)\d\d$", r"\1-\2-\3T\4:\5", path.stem)


def jobs_table(results_dir: Path) -> str:
    """Every stored ``experiments/jobs_throughput.py`` record: runs per hour one at a time and side by side."""
    lines = ["| date | machine | runs | mode | threads per run | runs/hour | minutes per run (each) | speed-up |",
             "|" + "---|" * 8]
    for path in sorted((results_dir / "bench").glob("jobs_*.json")):
        report = json.loads(path.read_text())
        date = record_date(path)
        for mode in report["modes"]:
            each = ", ".join(f"{s / 60:.1f}" for s in mode["run_wall_time_s"])
            speedup = f"{report['speedup']:.2f}×" if mode["jobs"] > 1 else "1"
            lines.append(f"| {date} | {machine_kind(report['machine'])} | {report['method']} {report['labels']} labels | "
                         f"{mode['jobs']} at a time | {mode['threads_per_run']} | {mode['runs_per_hour']:.2f} | {each} | "
                         f"{speedup} |")
    return "\n".join(lines)


def augment_table(results_dir: Path) -> str:
    """Every stored ``experiments/augment_scaling.py`` record: images/s per worker count, and scaling."""
    lines = ["| date | machine | size | workers | images/s | ÷ (N × one worker's) |", "|" + "---|" * 6]
    for path in sorted((results_dir / "bench").glob("augment_*.json")):
        report = json.loads(path.read_text())
        date = record_date(path)
        for n, rate in report["images_per_s"].items():
            scale = report["scaling_vs_one_worker"].get(n)
            lines.append(f"| {date} | {machine_kind(report['machine'])} | {report['size']} px | "
                         f"{n}{' (in the training process)' if n == '0' else ''} | {rate:.0f} | "
                         f"{'—' if scale is None else f'{scale:.2f}'} |")
    return "\n".join(lines)


def input_size_table(results_dir: Path) -> str:
    """Every stored ``experiments/input_size.py`` record: frozen-feature probes and a run's cost per
    input side of a start, beside the reference starts, and the side its rule chose."""
    records = [(path, json.loads(path.read_text()))
               for path in sorted((results_dir / "studies" / "input-size").glob("input_size_*.json"))]
    labels = sorted({int(k.removeprefix("probe_")) for _, r in records for row in r["rows"] for k in row
                     if k.startswith("probe_")})
    lines = ["| date | machine (1-min load) | start | side | " + "".join(f"probe, {n:,} labels | " for n in labels)
             + "images/s (numerics) | min per run | chosen |", "|" + "---|" * (7 + len(labels))]
    for path, report in records:
        where = f"{record_date(path)} | {machine_kind(report['machine'])} ({report['load_average_1min']:.1f})"
        for row in report["rows"] + report["references"]:
            start = f"{row['model']}:{row['init']}" + (f" (`{row['variant']}`)" if "variant" in row else "")
            chosen = "**yes**" if "variant" not in row and row["size"] == report["chosen_size"] else ""
            probes = "".join(f"{row[f'probe_{n}']:.2f} | " if f"probe_{n}" in row else "— | " for n in labels)
            lines.append(f"| {where} | {start} | {row['size']} px | {probes}"
                         f"{row['images_per_s']:.0f} ({row['numerics']['precision']}) | {row['minutes_per_run']:.1f} | "
                         f"{chosen} |")
    return "\n".join(lines)


def render(spec: dict[str, Any], results_dir: Path = REPO_ROOT / "results") -> str:
    """One block: the stored benchmarks, the pilot's runs, Fig. 3's sweeps, several metrics of one setting, a paper table laid out
    as the paper has it under this protocol (``"paper_table": N, "layout": true``), or explicit methods × columns; the
    claims per regime (``"kind": "regimes"``, ``"contrasts": false`` without the regime contrasts, which
    ``"kind": "regime_contrasts"`` renders alone)."""
    if spec.get("kind") == "bench":
        return bench_table(results_dir) + "\n"
    if spec.get("kind") == "augment":  # the paper protocol's loader, experiments/augment_scaling.py
        return augment_table(results_dir) + "\n"
    if spec.get("kind") == "input_size":  # a start's input side, experiments/input_size.py
        return input_size_table(results_dir) + "\n"
    if spec.get("kind") == "jobs":  # grid throughput, experiments/jobs_throughput.py
        return jobs_table(results_dir) + "\n"
    if spec.get("kind") == "precision":  # the fp32-vs-bf16 study (docs/operations.md)
        return study_report(*stored_arms(results_dir)) + "\n"
    if spec.get("kind") == "regimes":  # Table 2's claims per regime (adacm claims --regimes)
        return regimes_report(results_dir, spec["protocol"], spec.get("contrasts", True)) + "\n"
    if spec.get("kind") == "regime_contrasts":  # does the regime change a claim's gap (docs/findings.md)
        return contrasts_report(results_dir, spec["protocol"]) + "\n"
    if spec.get("kind") == "claims":  # the verdict on each of the paper's comparative claims (adacm claims)
        return claims_report(results_dir, spec["protocol"], spec.get("table")) + "\n"
    if spec.get("kind") in ("pilot", "pilot_summary"):
        methods = spec.get("methods")
        runs = [r for r in select(spec, results_dir) if not methods or r["config"]["method"] in methods]
        return (pilot_table if spec["kind"] == "pilot" else pilot_summary)(runs) + "\n"
    if spec.get("kind") == "sweeps":  # Fig. 3: Ada-CM's B and γ sweeps
        points = sweep_points(load_results(results_dir, spec["protocol"]), sweep_base(spec["protocol"]),
                              spec.get("metric", "test_acc_last"))
        return sweep_report(points) + "\n"
    if spec.get("kind") == "metrics":  # one setting, several metrics (Fig. 4's CK+ feature scores)
        runs = [r for r in select(spec, results_dir) if r["config"]["n_labels"] == spec["labels"]]
        return metrics_table(runs, spec["methods"], spec["metrics"]) + "\n"
    metric = spec.get("metric", "test_acc_last")
    if spec.get("layout"):
        layout = paper_layout(spec["paper_table"], spec["protocol"])
        results = [r for r in select(spec, results_dir, {}) if layout.admits(r)]
        return markdown_table(results, layout.methods, layout.columns, metric, spec["paper_table"], layout.by) + "\n"
    columns = [tuple(c) for c in spec["columns"]]
    return markdown_table(select(spec, results_dir), spec["methods"], columns, metric,
                          spec.get("paper_table", 2), spec.get("by", "dataset")) + "\n"


def documents() -> list[Path]:
    """The files whose generated blocks ``adacm report`` renders and the tests hold to the results."""
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def generated_blocks(path: Path) -> list[tuple[str, str]]:
    """(spec, body) of each generated block of a document."""
    return [(m.group(2), m.group(3)) for m in BLOCK.finditer(path.read_text())]


def update_documents(results_dir: Path = REPO_ROOT / "results") -> int:
    """Re-render every generated block of every document in place; returns how many."""
    count = 0

    def fill(m: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return m.group(1) + render(json.loads(m.group(2)), results_dir) + m.group(4)

    for path in documents():
        path.write_text(BLOCK.sub(fill, path.read_text()))
    return count
