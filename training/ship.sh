#!/usr/bin/env bash
# Ship training runs as pretrained/<kind>.keras (+ card), after calibrating sigma and evaluating them.
#   bash training/ship.sh [FAULT_RUN] [MOGI_RUN]     (from the repository root; default: fault_next mogi_next)
# A run that already carries a sigma calibration in its card is not calibrated again; its evaluation
# (training/<run>/<run>_eval.txt/.png, made by the same dlae_evaluate protocol) is copied to docs/figures.
set -euo pipefail
for pair in "fault:${1:-fault_next}" "mogi:${2:-mogi_next}"; do
    kind=${pair%%:*}
    run=${pair#*:}
    model="training/$run/$run.keras"
    if ! python -c "import json,sys; sys.exit(0 if 'sigma_calibration' in json.load(open('training/$run/$run.json')) else 1)"; then
        dlae_evaluate.py "$model" --kind "$kind" --calibrate-sigma -o "training/$run/${run}_eval"
    fi
    cp "training/$run/${run}_eval.txt" "docs/figures/eval_$kind.txt"
    cp "training/$run/${run}_eval.png" "docs/figures/eval_$kind.png"
    cp "$model" "pretrained/$kind.keras"
    python - "$run" "$kind" <<'PY'
import json, sys
run, kind = sys.argv[1:]
card = json.load(open(f"training/{run}/{run}.json"))
card.update(name=f"{kind}.keras", training_run=f"training/{run}")
with open(f"pretrained/{kind}.json", "w") as f:
    json.dump(card, f, indent=1)
PY
done
python -m mintpy_dlae.model_card --write          # pretrained/README.md from the new cards
python benchmarks/injection.py --model fault --model mogi --json docs/figures/injection.json \
    --png docs/figures/injection_5x.png
