#!/usr/bin/env bash
# The one prepared command for a lent GPU machine (see docs/benchmarks.md section 5):
#   bash bench/gpu_run.sh            -> prints the table, writes $OUT/gpu.json
# The GPU machines have torch, transformers and tokenizers but no network and
# no `datasets`/`seqeval`; bench/gpu.py needs neither. The package is put on
# the path through a link farm, so nothing is installed or built there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shim=$(mktemp -d)
mkdir -p "$shim/persian_ie"
cp "$root"/persian_ie/*.py "$shim/persian_ie/"
for stage in data models training eval inference bench; do ln -s "$root/$stage" "$shim/persian_ie/$stage"; done
export PYTHONPATH="$shim${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -m persian_ie.bench.gpu --out "${OUT:-.}/gpu.json" "$@"
