"""What a result was computed on: the CPU (model, cores, instruction set, native bf16), threads,
torch/torchvision versions and GPU. Runs from two CPU kinds do not reproduce each other bit for
bit (oneDNN picks other kernels), so every result and benchmark records this."""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torchvision


@lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.split("\n\n", 1)[0].splitlines():
        name, sep, value = line.partition(":")
        if sep:
            info[name.strip()] = value.strip()
    return info


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def native_bf16() -> bool:
    """Whether the CPU computes bf16 in hardware (AVX-512 BF16 or AMX); without it oneDNN emulates
    bf16 and an autocast step is slower than fp32."""
    flags = set(_cpuinfo().get("flags", "").split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def cpu_cores() -> int:
    """Logical cores of this machine: the training threads, side-by-side jobs and loader workers share them."""
    return os.cpu_count() or 1


def cpu_capability() -> str:
    return torch.backends.cpu.get_cpu_capability()


def machine(device: torch.device | None = None) -> dict[str, Any]:
    """The provenance block of a result: the hardware and the software versions that computed it."""
    out: dict[str, Any] = {"cpu_model": cpu_model(), "cpu_cores": cpu_cores(), "cpu_capability": cpu_capability(),
                           "native_bf16": native_bf16(), "threads": torch.get_num_threads(),
                           "torch": torch.__version__, "torchvision": torchvision.__version__}
    if device is not None and device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def machine_kind(record: dict[str, Any]) -> str:
    """A short name of the kind of machine a provenance block describes, for grouping and reports:
    runs of one kind and precision reproduce each other; across kinds they agree only statistically."""
    if record.get("gpu"):
        return f"gpu:{record['gpu']}"
    bf16 = "bf16" if record.get("native_bf16") else "no-bf16"
    return f"{record.get('cpu_model', '?')} ({record.get('cpu_capability', '?')}, {bf16})"
