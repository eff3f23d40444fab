#!/bin/sh
# QAT of the stage-2 fine-tune's best float model at epoch 3 (1,500 iterations; a copy, since the
# run goes on) on the same images, validated on the same held-out images. Short: 300 iterations.
# Run from the repository root; run it again to resume after an interruption.
D=../shared/datasets
exec abpn-tool quantize models/runs/finetune2-epoch3.keras --data $D/T91 --data $D/BSD200 \
    --data $D/BSDS500_test --data $D/Kodak24 --hold-out-from $D/BSDS500_test --hold-out-from $D/Kodak24 \
    --small-patch 32 --preset paper --epochs 1 --steps-per-epoch 300 --seed 3 --out models/runs/qat2 "$@"
