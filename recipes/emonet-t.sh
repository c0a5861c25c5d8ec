#!/usr/bin/env bash
# Reproduces the shipped models: emonet-t in four stages, then the default emonet-t-slim pruned and distilled
# from it; each exported calibrated:
#   bash recipes/emonet-t.sh [DATA]          (DATA defaults to ../shared/fer2013)
# Stage 1 trains from scratch; stages 2-4 restart the schedule (lower peak lr each time) from the previous
# stage's best (EMA) weights. Checkpoints are selected on PublicTest; the temperature is fitted on PublicTest.
set -euo pipefail
DATA=${1:-../shared/fer2013}
s1=$(emolens train --config recipes/emonet-t-stage1.json --data "$DATA" | tail -n 1)
s2=$(emolens train --config recipes/emonet-t-stage2.json --data "$DATA" --init "$s1/best.safetensors" | tail -n 1)
s3=$(emolens train --config recipes/emonet-t-stage3.json --data "$DATA" --init "$s2/best.safetensors" | tail -n 1)
s4=$(emolens train --config recipes/emonet-t-stage4.json --data "$DATA" --init "$s3/best.safetensors" | tail -n 1)
emolens export "$s4/best.safetensors" --out "$s4/emonet-t.onnx" --name emonet-t --calibrate-on "$DATA"
emolens evaluate --model "$s4/emonet-t.onnx" --data "$DATA" --split val --tta ten --calibrate
# The default (fast) model: emonet-t pruned to half-width residual blocks, then distilled from it.
s5=$(emolens train --config recipes/emonet-t-slim.json --data "$DATA" --init "$s4/best.safetensors" \
     --teacher "$s4/best.safetensors" | tail -n 1)
emolens export "$s5/best.safetensors" --out "$s5/emonet-t-slim.onnx" --name emonet-t-slim --calibrate-on "$DATA"
emolens evaluate --model "$s5/emonet-t-slim.onnx" --data "$DATA" --split val --tta ten --calibrate
