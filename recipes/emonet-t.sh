#!/usr/bin/env bash
# Reproduces the shipped emonet-t in two stages and exports it calibrated:
#   bash recipes/emonet-t.sh [DATA]          (DATA defaults to ../shared/fer2013)
# Stage 1 trains from scratch; stage 2 restarts the schedule from stage 1's best (EMA) weights.
# Checkpoints are selected on PublicTest; the temperature is fitted on PublicTest.
set -euo pipefail
DATA=${1:-../shared/fer2013}
s1=$(emolens train --config recipes/emonet-t-stage1.json --data "$DATA" | tail -n 1)
s2=$(emolens train --config recipes/emonet-t-stage2.json --data "$DATA" --init "$s1/best.safetensors" | tail -n 1)
emolens export "$s2/best.safetensors" --out "$s2/emonet-t.onnx" --name emonet-t --calibrate-on "$DATA"
emolens evaluate --model "$s2/emonet-t.onnx" --data "$DATA" --split val --tta ten --calibrate
