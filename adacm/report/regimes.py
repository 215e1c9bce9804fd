"""Table 2's claims per regime (``adacm claims --regimes``): does a verdict survive a change of regime?

A regime is a named variant of a protocol (its backbone, initialisation, input size, schedule);
runs of two regimes never share a cell. Each regime's claims are their own Holm family, read as
if that regime were the protocol. A verdict that differs between two regimes does not show that
the effect differs (a significant and a non-significant result need not differ significantly),
so the regimes are also compared directly: per claim and seed, the gap in a regime minus the gap
in the protocol's default regime. The runs of one seed share the labeled split in every regime,
so these differences are paired by seed.
Each regime's contrasts (its Table 2 claims against the default) are one Holm family for their
two-sided p-values, fixed by the design; they qualify the verdicts and are not verdicts on the
paper's claims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from adacm.report import paper
from adacm.report.claims import (
    TABLE_CLAIMS,
    Claim,
    Verdict,
    bold_decided,
    evaluate,
    fmt_ci,
    fmt_p,
)
from adacm.report.stats import ALPHA, PairedTest, holm, paired_test
from adacm.report.tables import default_backbone, matches
from adacm.run.protocols import get_protocol
from adacm.run.store import check_results_dir, load_results


def regime_verdicts(results: list[dict[str, Any]], protocol: str, bootstrap: bool = True) -> dict[str, list[Verdict]]:
    """Table 2's claims in every regime of ``protocol`` (its named variants) that has pairs. Each
    regime is its own family for Holm: a regime's verdicts read as they would if it were the protocol.
    ``bootstrap``: the per-image CIs too (only the forest plot shows them)."""
    out = {}
    for regime in get_protocol(protocol).variants:
        verdicts = evaluate(results, protocol, TABLE_CLAIMS[2], bootstrap=bootstrap, regime=regime)
        if verdicts:
            out[regime] = verdicts
    return out


def regime_rows(by_regime: dict[str, list[Verdict]]) -> list[dict[str, Any]]:
    """``Verdict.to_dict()`` rows of every regime, each with its ``regime`` (for the faceted forest plot)."""
    return [{**v.to_dict(), "regime": regime} for regime, verdicts in by_regime.items() for v in verdicts]


def regime_matrix(by_regime: dict[str, list[Verdict]]) -> str:
    """Claim × regime: verdict, paired difference with its t-interval, and n, per cell."""
    regimes = list(by_regime)
    lines = ["| claim | paper's gap | " + " | ".join(f"`{r}`" for r in regimes) + " |", "|" + "---|" * (len(regimes) + 2)]
    for claim in TABLE_CLAIMS[2]:
        cells = []
        for regime in regimes:
            v = next((v for v in by_regime[regime] if v.claim == claim), None)
            if v is None:
                cells.append("—")
                continue
            d = v.to_dict()
            spread = fmt_ci(d["ci_t"]) if d["ci_t"] else "(one pair)"
            cells.append(f"{bold_decided(v.word)}: {d['diff']:+.2f} {spread}, n={v.n}")
        gap = claim.paper_gap()
        lines.append(f"| {claim.short} | {'—' if gap is None else f'{gap:+.2f}'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class RegimeContrast:
    """One claim's gap in ``regime`` against its gap in the default regime, over their shared seeds."""
    claim: Claim
    regime: str
    test: PairedTest  # of the per-seed differences: gap in ``regime`` − gap in the default
    gap: float  # mean gap in ``regime`` over the shared seeds
    default_gap: float  # and in the default over the same seeds
    p_adjusted: float = 1.0  # Holm over ``regime``'s contrasts
    family: int = 0  # how many those are

    @property
    def word(self) -> str:
        return "differs" if self.p_adjusted < ALPHA else "not shown to differ"


def regime_contrasts(by_regime: dict[str, list[Verdict]], default: str) -> list[RegimeContrast]:
    """Every claim of every other regime with two or more seeds shared with ``default``'s pairs.
    Each regime's contrasts are one Holm family, fixed by the design (its Table 2 claims against
    the default), so a regime's adjusted p-values do not move when another regime gets runs."""
    in_default = {v.claim: dict(zip(v.pairing.seeds, v.pairing.diffs)) for v in by_regime.get(default, [])}
    out = []
    for regime, verdicts in by_regime.items():
        if regime == default:
            continue
        rows = []
        for v in verdicts:
            in_regime, base = dict(zip(v.pairing.seeds, v.pairing.diffs)), in_default.get(v.claim, {})
            shared = sorted(set(in_regime) & set(base))
            if len(shared) >= 2:
                a, b = np.array([in_regime[s] for s in shared]), np.array([base[s] for s in shared])
                rows.append(RegimeContrast(v.claim, regime, paired_test(a - b), float(a.mean()), float(b.mean())))
        adjusted = holm([c.test.p_two_sided for c in rows])
        out += [replace(c, p_adjusted=p, family=len(rows)) for c, p in zip(rows, adjusted)]
    return out


def contrast_table(contrasts: list[RegimeContrast], default: str) -> str:
    """One row per claim and regime: the two gaps over the shared seeds, their difference with its CI."""
    lines = [f"| claim | regime | shared seeds | gap in the regime | gap in `{default}`, same seeds | difference | "
             "95% CI (t, unadjusted) | p | p (Holm over the regime's contrasts) | regime effect |", "|" + "---|" * 10]
    lines += [f"| {c.claim.short} | `{c.regime}` | {c.test.n} | {c.gap:+.2f} | {c.default_gap:+.2f} | {c.test.mean:+.2f} | "
              f"{fmt_ci(c.test.ci)} | {fmt_p(c.test.p_two_sided)} | {fmt_p(c.p_adjusted)} (of {c.family}) | "
              f"{bold_decided(c.word)} |" for c in contrasts]
    return "\n".join(lines)


def contrast_summary(contrasts: list[RegimeContrast], default: str) -> str:
    """Which claims' gaps a regime changes, in a sentence."""
    differ = [f"{c.claim.short} in `{c.regime}` ({c.gap:+.2f} against {c.default_gap:+.2f}, n={c.test.n})"
              for c in contrasts if c.word == "differs"]
    head = (f"Does the regime change a claim's gap? Per seed, the gap in a regime minus the gap in `{default}` "
            "(paired by seed: one labeled split per seed in every regime), Holm over each regime's contrasts: ")
    if not differ:
        return head + f"none of the {len(contrasts)} is shown to differ."
    return head + "it does for " + ", ".join(differ) + f"; the other {len(contrasts) - len(differ)} are not shown to differ."


def contrasts_block(by_regime: dict[str, list[Verdict]], protocol: str) -> str | None:
    """The regime contrasts in a sentence and a table; None where no regime shares two seeds with the default."""
    default = get_protocol(protocol).default_variant
    contrasts = regime_contrasts(by_regime, default) if default else []
    if not contrasts:
        return None
    return contrast_summary(contrasts, default) + "\n\n" + contrast_table(contrasts, default)


def plain_reading(verdicts: list[Verdict]) -> dict[str, list[Verdict]]:
    """A regime's claims sorted into what a reader asks: which hold, which are contradicted
    (reversed, or the paper's size of gap excluded), which cannot be decided yet, which lack pairs."""
    groups: dict[str, list[Verdict]] = {k: [] for k in PLAIN_GROUPS}
    for v in verdicts:
        if v.word in ("supported", "reversed", "not evaluable"):
            groups[v.word].append(v)
        else:
            groups["excluded" if v.paper_position == "above" else "undecided"].append(v)
    return groups


#: the plain reading's groups, in the order a reader is told them, each with why it is there
PLAIN_GROUPS = {
    "supported": "supported (A > B after Holm's adjustment)",
    "reversed": "contradicted: reversed (B > A after Holm's adjustment)",
    "excluded": "contradicted in size: the direction is undecided, but the paper's gap lies above our 95% CI "
                "(per claim, unadjusted)",
    "undecided": "cannot be decided yet (not significant after Holm's adjustment)",
    "not evaluable": "not evaluable: one seed pair",
}


def plain_item(v: Verdict, group: str) -> str:
    """A claim in its plain group: a decided one with its adjusted p (how near the line it is); a
    decided or undecided one with where the paper's gap lies (a supported claim may still be far
    smaller than the paper's); an undecided one with the seeds it would take."""
    gap = "no paper gap" if v.paper_position is None else f"the paper's gap {v.paper_position} our CI"
    match group:
        case "supported" | "reversed":
            notes = [f"p (Holm) {fmt_p(v.p_adjusted)} over {v.family} claims", gap]
        case "undecided":
            notes = [gap] + ([f"{v.seeds_for_paper_gap} seeds for 80% power at it"] if v.seeds_for_paper_gap else [])
        case _:
            notes = []
    notes = [f"n={v.n}", *notes]
    return f"{v.claim.short} ({'; '.join(notes)})"


def plain_summary(by_regime: dict[str, list[Verdict]]) -> str:
    """One bullet per regime: the claims in each group of ``plain_reading``."""
    lines = []
    for regime, verdicts in by_regime.items():
        parts = [f"{PLAIN_GROUPS[key]}: " + ", ".join(plain_item(v, key) for v in group)
                 for key, group in plain_reading(verdicts).items() if group]
        lines.append(f"- `{regime}`: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def operating_points(results: list[dict[str, Any]], protocol: str) -> str:
    """Per regime and label count: Ada-CM's and FixMatch's last-epoch test accuracy, mask rate and
    pseudo-label accuracy of the masked faces (means over seeds), the paper's Ada-CM accuracy beside."""
    lines = ["| regime | labels | Ada-CM test acc | Ada-CM mask rate | Ada-CM pseudo-label acc | FixMatch test acc | "
             "FixMatch mask rate | FixMatch pseudo-label acc | paper's Ada-CM (RAF-DB) |", "|" + "---|" * 9]
    for regime in get_protocol(protocol).variants:
        for n in sorted({c.n_labels for c in TABLE_CLAIMS[2]}):
            where = {**default_backbone(protocol, **get_protocol(protocol).variant(regime)), "dataset": "fer2013",
                     "n_labels": n}
            cells = []
            for method in ("adacm", "fixmatch"):
                last = [r["epochs"][-1] for r in results if r["config"]["method"] == method and matches(r, where)]
                cells += [f"{np.mean([e[k] for e in last]) * scale:.1f}" if last and all(k in e for e in last) else "—"
                          for k, scale in (("test_acc", 1), ("mask_rate", 100), ("pl_acc_masked", 100))]
                cells[-3] += f" (n={len(last)})" if last else ""
            if all(c == "—" for c in cells):
                continue
            ref = paper.reported(2, "adacm", dataset="rafdb", labels=n)
            lines.append(f"| `{regime}` | {n} | " + " | ".join(cells) + f" | {ref.mean if ref else '—'} |")
    return "\n".join(lines)


def stored_regimes(results_dir: Path, protocol: str) -> tuple[list[dict[str, Any]], dict[str, list[Verdict]]]:
    """The protocol's stored runs and their verdicts per regime, as the text reports show them (no bootstrap)."""
    check_results_dir(results_dir)
    results = load_results(results_dir, protocol)
    return results, regime_verdicts(results, protocol, bootstrap=False)


def regimes_report(results_dir: Path, protocol: str, contrasts: bool = True) -> str:
    """``adacm claims --regimes``: Table 2's claims per regime, whether the regime changes each gap
    (``contrasts``), and each regime's operating point."""
    results, by_regime = stored_regimes(results_dir, protocol)
    if not by_regime:
        return f"no Table 2 claim has a pair of stored `{protocol}` runs in any regime in {results_dir}"
    parts = ["In plain words, per regime:\n\n" + plain_summary(by_regime), regime_matrix(by_regime)]
    block = contrasts_block(by_regime, protocol) if contrasts else None
    parts += [block] if block else []
    parts.append("Each regime's operating point at the last epoch (means over seeds; mask rate and pseudo-label "
                 "accuracy in %):\n\n" + operating_points(results, protocol))
    return "\n\n".join(parts)


def contrasts_report(results_dir: Path, protocol: str) -> str:
    """The regime contrasts alone (docs/findings.md's generated block)."""
    block = contrasts_block(stored_regimes(results_dir, protocol)[1], protocol)
    return block or f"no regime of `{protocol}` shares two seed pairs of a claim with its default regime"
