#!/bin/bash
# Train on the device machine that some sessions are lent (one H200, 16 cores; JAX and PyTorch, no
# TensorFlow) with the project's backend-neutral loop (Keras 3, KERAS_BACKEND=jax), and bring the
# checkpoint back.  Nothing here runs in CI.
#
# Prepare once, here, in the repository root (the wheels are ignored by git and carried by the tool):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl keras==3.15.1 namex optree
#   (checked 2026-11-30: 2.9 MB of wheels; the tracked tree is 55.4 MB (2026-12-02), 58.3 MB with
#   them, of the tool's 64 MiB (67.1 MB). A run resumes only from its checkpoint (NAME_ckpt/last.keras, about 3.7 MB, beside
#   state.json): --resume without it is an error, never a silent new run. Keep it for the run you will
#   continue, and make room by removing a superseded model or checkpoint (training/README.md records
#   how to get each back from git history))
# Run with the device tool (carry [".whl", "training/NAME"] when resuming; timeout_s 600):
#   bash training/device_train.sh SECONDS NAME <training/finetune.py arguments after NAME>
# e.g. a fine-tune of the shipped fault model on its broader noise (the `fault_bn` recipe of
# training/README.md) with 14 generator processes and batch 256:
#   bash training/device_train.sh 480 fault_gpu --init training/fault_bn/fault_bn.keras \
#       --samples 2000000 --lr 6e-4 --batch-size 256 --steps-per-epoch 200 --workers 14 \
#       --generator '{"keep_flat": 1.0, "area_reference": 0.4, "steady": 0.45, "cells": 0.35, "steep": 0.3}'
# (add "stratified_season": 0.35 to teach the seasonal stratified delay; training/README.md,
# "Seasonal stratified delay": short CPU runs did not make the network use its elevation input;
# add "irregular": 0.3 for windows sampled with gaps, "Irregular sampling, and a control")
# or, to train a network with elevation channels at its first layer from the start (no --init;
# `fault_ef` in the same section: a fine-tune does not take them up):
#   bash training/device_train.sh 480 fault_ef_gpu --samples 2000000 --lr 1e-3 --batch-size 256 \
#       --steps-per-epoch 200 --workers 14 --model-config '{"elevation_features": true}' \
#       --generator '{"keep_flat": 1.0, "area_reference": 0.4, "steady": 0.45, "cells": 0.35, "steep": 0.3, "stratified_season": 0.35}'
# (`"stratified_estimate": true` in --model-config instead gives the first layers each date's local
# phase/elevation fit: a CPU fine-tune took it up and then lost real-noise gain and a volcano's
# inflation, training/README.md "A phase/elevation channel"; from the start, with "volcanic": 0.25
# and "steep": 0.6 in the generator, is the untried arm)
# The run stops after SECONDS (at most one epoch is lost); $OUT then holds NAME.keras, NAME.json,
# last.keras, state.json and train.log.  Copy the first two into training/NAME/ and the checkpoint
# pair into training/NAME/NAME_ckpt/; `python training/finetune.py NAME --samples N --resume`
# continues it on any machine (--batch-size and --lr may change on a resume, e.g. from a CPU run's 32
# to a GPU's 256; the schedule counts samples).  Size --samples to the time: the learning rate decays
# over --samples.
set -u
SECONDS_LIMIT=$1; NAME=$2; shift 2
if ls .whl/*.whl >/dev/null 2>&1; then
    SITE=$(mktemp -d)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl || exit 1
    export PYTHONPATH=$SITE:$PWD
else
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
OUTDIR=${OUT:-training/$NAME/out}
mkdir -p "$OUTDIR" "training/$NAME"
nvidia-smi -L 2>/dev/null | head -1
timeout --signal=INT "$SECONDS_LIMIT" python3 training/finetune.py "$NAME" "$@" 2>&1 | tee "$OUTDIR/train.log"
for f in "training/$NAME/$NAME.keras" "training/$NAME/$NAME.json" "training/$NAME/${NAME}_ckpt/last.keras" \
         "training/$NAME/${NAME}_ckpt/state.json"; do
    [ -f "$f" ] && cp "$f" "$OUTDIR/"
done
ls -l "$OUTDIR"
