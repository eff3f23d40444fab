#!/bin/sh
# Stage-3 QAT (issue 12): 3,000 iterations, as for the shipped model, from the float model named by
# $1 (stage 2's or stage 3's best.keras), on the stage-2 data, weights averaged. Run from the
# repository root; run again to resume.
D=../shared/datasets
FLOAT=${1:?usage: qat3.sh FLOAT_CHECKPOINT}; shift
exec abpn-tool quantize "$FLOAT" --data $D/T91 --data $D/BSD200 --data $D/BSDS500_test --data $D/Kodak24 \
    --hold-out-from $D/BSDS500_test --hold-out-from $D/Kodak24 --small-patch 32 --rescale 0.9,0.8,0.7,0.6 \
    --ema --preset paper --epochs 6 --steps-per-epoch 500 --seed 3 --out models/runs/qat3 "$@"
