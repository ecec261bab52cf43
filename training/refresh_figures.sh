#!/usr/bin/env bash
# After `bash training/ship.sh FAULT_RUN MOGI_RUN`: regenerate every result file of docs/ that depends
# on the shipped models, then re-derive the marked tables (check_docs --fix).
#   bash training/refresh_figures.sh FAULT_RUN MOGI_RUN      (from the repository root)
# About 52 min on an idle 2-core AMD EPYC (2026-12-01, refreshing fault_bn + mogi_fd; the 8-copy protocol
# of a new model alone takes 9 min, r2_at_snr --augment 1 4 8 about 17), more with other work sharing the cores.  The prose around the tables (docs/evaluation.md,
# docs/real_data.md, README.md, the model cards' summaries, the measured comments of
# tests/test_pretrained.py) still needs a reader afterwards: `git diff docs/figures` shows what moved.
set -euo pipefail
fault_run=${1:?FAULT_RUN}
mogi_run=${2:?MOGI_RUN}
export TF_CPP_MIN_LOG_LEVEL=3
step() { echo "== $(date -u +%H:%M:%S) $*"; }

step "protocol with 8 symmetric copies"
for pair in "fault:$fault_run" "mogi:$mogi_run"; do
    kind=${pair%%:*}; run=${pair#*:}
    if [ ! -f "training/$run/${run}_eval8.txt" ]; then
        dlae_evaluate.py "training/$run/$run.keras" --kind "$kind" --augment 8 -o "training/$run/${run}_eval8"
    fi
    cp "training/$run/${run}_eval8.txt" "docs/figures/eval_${kind}_augment8.txt"
done

step "R² at exact SNR, copies"
python benchmarks/r2_at_snr.py --model fault --model mogi --per-level 192 --json docs/figures/r2_at_snr.json
python benchmarks/r2_at_snr.py --model fault --model mogi --augment 1 4 8 --json docs/figures/r2_at_snr_augment.json
python benchmarks/extent.py --model fault --model mogi --json docs/figures/extent.json
python benchmarks/coverage_by_significance.py --model fault --model mogi --json docs/figures/coverage_by_significance.json
python benchmarks/augment.py --model fault --model mogi --json docs/figures/augment.json
python benchmarks/passthrough.py --model fault --model mogi --json docs/figures/passthrough.json

step "real noise"
python benchmarks/injection_spread.py --model fault --model mogi --json docs/figures/injection_spread_augment.json
python benchmarks/injection_spread.py --model fault --model mogi --augment 1 --json docs/figures/injection_spread.json
python benchmarks/leakage.py --model fault --model mogi --json docs/figures/leakage.json
python benchmarks/leakage.py --model fault --model mogi --columns 0 50 --json docs/figures/leakage_west.json
python benchmarks/leakage.py --model fault --model mogi --permute 0 1 2 3 --json docs/figures/leakage_permuted.json
python benchmarks/steady.py --model fault --model mogi --json docs/figures/steady.json
python benchmarks/steady.py --model fault --model mogi --augment 8 --json docs/figures/steady_augment.json

step "Mexico City"
python docs/examples/mexico_city.py
python docs/examples/mexico_checks.py

step "figures"
python -m mintpy_dlae.plot examples --kind fault -o docs/figures/examples_fault.png
python -m mintpy_dlae.plot examples --kind mogi -o docs/figures/examples_mogi.png
python -m mintpy_dlae.plot learning-curves training/base/base_ckpt/state.json \
    training/fault_area/fault_area_ckpt/state.json "training/$fault_run/${fault_run}_ckpt/state.json" \
    "training/$mogi_run/${mogi_run}_ckpt/state.json" -o docs/figures/learning_curves.png
rm -rf dlae_demo && dlae_demo.py
cp dlae_demo/pic_dlae/demo_fault.png dlae_demo/pic_dlae/demo_fault_windows.png docs/figures/
scratch=$(mktemp -d)
python docs/examples/demo_significance.py dlae_demo > "$scratch/significance.out"
repo=$(pwd)
(mkdir -p "$scratch/amp30" && cd "$scratch/amp30" && dlae_demo.py --amplitude 30 \
    && python "$repo/docs/examples/demo_significance.py" dlae_demo > "$scratch/significance_amp30.out")
export DEMO_SCRATCH=$scratch
python - <<'PY'
import json, os
scratch = os.environ["DEMO_SCRATCH"]
def sig(path):
    text = open(path).read()
    return json.loads(text[text.index("{"):])
out = {"command": "dlae_demo.py; python docs/examples/demo_significance.py dlae_demo",
       "demo": json.load(open("dlae_demo/pic_dlae/demo_fault.json")),
       "significance": sig(os.path.join(scratch, "significance.out")),
       "amplitude_30": {"command": "dlae_demo.py --amplitude 30; python docs/examples/demo_significance.py dlae_demo",
                        "demo": json.load(open(os.path.join(scratch, "amp30", "dlae_demo", "pic_dlae", "demo_fault.json"))),
                        "significance": sig(os.path.join(scratch, "significance_amp30.out"))}}
json.dump(out, open("docs/figures/demo_numbers.json", "w"), indent=1)
PY
# the numbers quoted in docs/demo.md and README.md: docs/figures/demo_numbers.json

step "marked tables"
python benchmarks/check_docs.py --fix || true
python benchmarks/check_docs.py
step "done: now read git diff docs/ and update the prose, then run the README's test command"
