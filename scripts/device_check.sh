#!/usr/bin/env bash
# The device check (adacm/studies/device_check.py): run on a machine with a GPU, from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
exec make device-check
