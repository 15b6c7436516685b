#!/usr/bin/env bash
# Rules vs learned relation head on one split, gold spans and end to end (issue 10 item 1).
# usage: bench/relation_compare.sh RULES_MODEL LEARNED_MODEL SPLIT OUTDIR   (SPLIT: dev or test)
set -euo pipefail
rules=$1 learned=$2 split=$3 out=$4
gold=data/corpus/$split.jsonl
mkdir -p "$out"
pie() { OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} nice -n 10 persian-ie "$@"; }
for name in rules learned; do
  model=$rules; [ "$name" = learned ] && model=$learned
  pie evaluate --gold "$gold" --model "$model" --link-gold-spans --bootstrap 1000 --out "$out/${name}_gold_$split.json" > "$out/${name}_gold_$split.txt"
  pie evaluate --gold "$gold" --model "$model" --bootstrap 1000 --out "$out/${name}_e2e_$split.json" > "$out/${name}_e2e_$split.txt"
done
for kind in gold e2e; do
  echo "== $split, $kind: A=rules B=learned"
  pie evaluate --compare "$out/rules_${kind}_$split.json" "$out/learned_${kind}_$split.json" --bootstrap 1000 | grep -E "relations|records|^ " || true
done
