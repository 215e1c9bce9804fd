"""A run's numerics on its device: fp32 or bf16 autocast, channels_last or not.

Numerics are how a run is computed, not what it is: they are not part of the config key, and
every result records the ones it ran in (``result["numerics"]``). Whether a bf16 and an fp32
run of one config agree statistically is measured in the docs (Operations, "Precision"), and
the verdict engine reports pairs that mix them.

On a CPU the fastest of the four combinations is chosen by a short probe of a training step
(forward, backward, Adam) of the run's backbone at its input size, cached per CPU model, torch
version and thread count in ``ADACM_CACHE``: bf16 autocast is faster than fp32 on a CPU with
native bf16 (AVX-512 BF16 or AMX) and slower on one without, where oneDNN emulates it, so no
one choice suits every CPU (the timings: results/bench/; see docs/findings.md).
``--precision`` or ``ADACM_PRECISION`` force a precision (the memory format is still probed). On a GPU: fp32, the official code's numerics,
unless bf16 is asked for.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from adacm.errors import UserError
from adacm.models import build_model
from adacm.paths import atomic_write_bytes, cache_dir
from adacm.run.config import RETIRED
from adacm.run.machine import cpu_model

PRECISIONS = ("fp32", "bf16")
CHOICES = ("auto", *PRECISIONS)
PROBE_BATCH = 32
PROBE_STEPS = 3  # timed, after one untimed step; the fastest step counts (least disturbed)


@dataclass(frozen=True)
class Numerics:
    precision: str = "fp32"
    channels_last: bool = False
    chosen_by: str = "default"  # "probe" (auto), "forced" (precision given), "gpu", "default"

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def to(self, t: torch.Tensor | torch.nn.Module, device: torch.device) -> Any:
        """A batch or a model on the device, in the chosen memory format (4-D tensors only)."""
        if self.channels_last and (isinstance(t, torch.nn.Module) or t.ndim == 4):
            return t.to(device, memory_format=torch.channels_last)
        return t.to(device)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retired_numerics(cfg: dict[str, Any] | None = None, chosen_by: str = "config") -> Numerics:
    """The numerics that were fixed in the code before they were chosen: a config's ``amp_bf16``
    and ``channels_last`` (``config.RETIRED`` for configs without them)."""
    cfg = {**RETIRED, **(cfg or {})}
    return Numerics("bf16" if cfg["amp_bf16"] else "fp32", bool(cfg["channels_last"]), chosen_by)


def result_numerics(result: dict[str, Any]) -> dict[str, Any]:
    """The numerics a stored run ran in; runs stored before numerics were recorded took them from
    their config."""
    return result["numerics"] if "numerics" in result else retired_numerics(result["config"]).to_dict()


def requested_precision(value: str | None = None, default: str = "auto") -> str:
    """The precision asked for: ``value`` (``--precision``), else ``ADACM_PRECISION``, else the
    protocol's ``default``."""
    value = value or os.environ.get("ADACM_PRECISION") or default
    if value not in CHOICES:
        raise UserError(f"precision {value!r} (--precision or ADACM_PRECISION) must be one of {', '.join(CHOICES)}")
    return value


def choose(device: torch.device, model: str, image_size: int, precision: str | Numerics | None = None,
           default: str = "auto") -> Numerics:
    """The numerics a run of ``model`` at ``image_size`` px uses on ``device`` (see the module doc);
    given exact ``Numerics`` (to reproduce a stored run), those; ``default``: the protocol's
    precision when none is asked for."""
    if isinstance(precision, Numerics):
        return precision
    precision = requested_precision(precision, default)
    if device.type == "cuda":
        chosen = "fp32" if precision == "auto" else precision
        return Numerics(chosen, chosen == "bf16", "gpu" if precision == "auto" else "forced")
    wanted = PRECISIONS if precision == "auto" else (precision,)
    timings = probe_timings(model, image_size, wanted)
    best = min(timings, key=timings.__getitem__)
    name, layout = best.split("/")
    return Numerics(name, layout == "channels_last", "probe" if precision == "auto" else "forced")


def probe_key(model: str, image_size: int) -> str:
    return f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads | {model} @ {image_size} px"


def probe_timings(model: str, image_size: int, precisions: tuple[str, ...] = PRECISIONS) -> dict[str, float]:
    """Seconds per training step of each combination of ``precisions`` × memory format
    ("fp32/contiguous", …), from the cache or measured now (a few seconds each) and cached."""
    path = cache_dir() / "numerics_probe.json"
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    timings = cached.setdefault(probe_key(model, image_size), {})
    combos = [f"{p}/{layout}" for p in precisions for layout in ("contiguous", "channels_last")]
    if missing := [c for c in combos if c not in timings]:
        for combo in missing:
            name, layout = combo.split("/")
            timings[combo] = step_seconds(build_model(model, 7)[0], image_size, Numerics(name, layout == "channels_last"))
        atomic_write_bytes(path, json.dumps(cached, indent=1, sort_keys=True).encode())
    return {c: timings[c] for c in combos}


def step_seconds(net: torch.nn.Module, image_size: int, numerics: Numerics) -> float:
    """The fastest of a few forward + backward + Adam steps on a random batch."""
    cpu = torch.device("cpu")
    net = numerics.to(net.train(), cpu)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    x = numerics.to(torch.rand(PROBE_BATCH, 1, image_size, image_size, generator=gen), cpu)
    y = torch.randint(0, 7, (PROBE_BATCH,), generator=gen)
    times = []
    for _ in range(PROBE_STEPS + 1):
        start = time.perf_counter()
        with numerics.autocast(cpu):
            logits, _ = net(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return round(min(times[1:]), 5)
