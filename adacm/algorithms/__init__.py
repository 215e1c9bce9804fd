"""Algorithm registry: a method name (as used on the command line and in results) → its class
and arguments. ``fixmatch@0.8`` sets FixMatch's threshold; ``adacm_lu``/``adacm_lc`` are
Table 1's ablations; ``flexmatch`` is FixMatch with FlexMatch's threshold policy. A new method
is one module plus one line here.
"""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adacm.algorithms.adacm import AdaCM
from adacm.algorithms.base import Algorithm, Batch
from adacm.algorithms.fixmatch import FixMatch
from adacm.algorithms.marginmix import MarginMix
from adacm.algorithms.meanteacher import MeanTeacher
from adacm.algorithms.mixmatch import MixMatch
from adacm.algorithms.pseudo_label import PseudoLabel
from adacm.algorithms.remixmatch import ReMixMatch
from adacm.algorithms.supervised import Supervised
from adacm.algorithms.thresholds import FlexMatchThreshold
from adacm.algorithms.uda import UDA
from adacm.errors import UserError


@dataclass(frozen=True)
class Method:
    """A registry entry: the class, the arguments that make this method of it, and the paper's name."""

    cls: type[Algorithm]
    args: Mapping[str, Any]
    label: str


METHODS: dict[str, Method] = {
    "supervised": Method(Supervised, {}, "Baseline"),
    "pseudo_label": Method(PseudoLabel, {}, "Pseudo-Labeling"),
    "mixmatch": Method(MixMatch, {}, "MixMatch"),
    "uda": Method(UDA, {}, "UDA"),
    "remixmatch": Method(ReMixMatch, {}, "ReMixMatch"),
    "fixmatch": Method(FixMatch, {"threshold": 0.95}, "FixMatch"),  # also Table 1's "FT = 0.95"
    "flexmatch": Method(FixMatch, {"threshold": 0.95, "policy": FlexMatchThreshold}, "FlexMatch"),
    "adacm": Method(AdaCM, {}, "Ada-CM"),
    "adacm_lu": Method(AdaCM, {"use_lc": False}, "Ada-CM (L^u only)"),
    "adacm_lc": Method(AdaCM, {"use_lu": False}, "Ada-CM (L^c only)"),
    "meanteacher": Method(MeanTeacher, {}, "MeanTeacher"),
    "marginmix": Method(MarginMix, {}, "MarginMix"),
}


def method_label(method: str) -> str:
    """The paper's name for a method (``fixmatch@0.8``: Table 1's "FT = 0.8"); an unknown name as it is."""
    base, _, value = method.partition("@")
    if value:
        return f"FT = {value}"
    return METHODS[base].label if base in METHODS else method


__all__ = ["Algorithm", "Batch", "METHODS", "Method", "build_algorithm", "method_args", "method_label"]


def method_args(method: str) -> tuple[str, dict[str, Any]]:
    """Resolve a method name (``fixmatch@0.8`` style allowed) to (registry key, arguments)."""
    base, _, value = method.partition("@")
    if base not in METHODS:
        raise UserError(f"unknown method {method!r}: choose one of {', '.join(METHODS)} (fixmatch@TAU sets the threshold)")
    args = dict(METHODS[base].args)
    if value:
        if base != "fixmatch":
            raise UserError(f"{method!r}: only fixmatch takes @THRESHOLD")
        try:
            args["threshold"] = float(value)
        except ValueError as exc:
            raise UserError(f"{method!r}: the threshold after @ must be a number") from exc
    return base, args


#: what a number-typed option accepts (JSON numbers; bool is an int in Python but not a number here)
_KINDS: dict[type, tuple[str, tuple[type, ...]]] = {float: ("a number", (int, float)), int: ("a whole number", (int,)),
                                                    bool: ("true or false", (bool,))}


def command_line_options(cls: type[Algorithm]) -> list[str]:
    """A method's options that ``--set NAME=VALUE`` can give: its constructor's arguments but the
    class count, the forward mode and anything callable (a threshold policy is a registry entry's)."""
    hints = typing.get_type_hints(cls.__init__)

    def callable_hint(hint: Any) -> bool:
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        return any(typing.get_origin(a) is collections.abc.Callable for a in args)

    return [n for n in inspect.signature(cls).parameters
            if n not in ("num_classes", "joint_forward") and not callable_hint(hints.get(n))]


def check_option_types(cls: type[Algorithm], method: str, options: dict[str, Any]) -> None:
    """A user's option value against the annotated type of the method's parameter, with the fix."""
    hints = typing.get_type_hints(cls.__init__)
    for name, value in options.items():
        hint = hints.get(name)
        if name not in command_line_options(cls):
            raise UserError(f"--set {name}: not an option of {method} on the command line "
                            f"(its options are {', '.join(command_line_options(cls))})")
        allowed = [h for h in (typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)) if h in _KINDS]
        if not allowed or value is None and type(None) in typing.get_args(hint):
            continue
        ok = any(isinstance(value, _KINDS[h][1]) and (h is bool or not isinstance(value, bool)) for h in allowed)
        if not ok:
            wanted = " or ".join(_KINDS[h][0] for h in allowed)
            raise UserError(f"--set {name}={value}: {method}'s option {name} takes {wanted}, not {value!r}")


def build_algorithm(method: str, num_classes: int, joint_forward: bool, overrides: dict[str, Any] | None = None) -> Algorithm:
    base, args = method_args(method)
    args.update(overrides or {})
    cls = METHODS[base].cls
    if cls is Supervised and args:
        raise UserError(f"supervised takes no options (got {', '.join(args)}): run it without --set")
    check_option_types(cls, method, overrides or {})
    try:
        return cls(num_classes=num_classes, joint_forward=joint_forward, **args) if cls is not Supervised \
            else cls(joint_forward=joint_forward)
    except TypeError as exc:
        raise UserError(f"bad arguments for {method}: {exc}; its options are "
                        f"{', '.join(command_line_options(cls))}") from exc
    except ValueError as exc:
        raise UserError(f"bad arguments for {method}: {exc}") from exc
