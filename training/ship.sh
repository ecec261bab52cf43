#!/usr/bin/env bash
# Calibrate sigma, evaluate and ship the specialised runs as pretrained/<kind>.keras (+ card).
#   bash training/ship.sh            (from the repository root; ~2 min per model on 2 cores)
set -euo pipefail
for kind in fault mogi; do
    dlae_evaluate.py "training/$kind/$kind.keras" --kind "$kind" --calibrate-sigma -o "docs/figures/eval_$kind"
    cp "training/$kind/$kind.keras" "pretrained/$kind.keras"
    cp "training/$kind/$kind.json" "pretrained/$kind.json"
done
python benchmarks/injection.py --model fault --model mogi --json docs/figures/injection.json \
    --png docs/figures/injection_mogi_5x.png
