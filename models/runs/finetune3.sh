#!/bin/sh
# Stage 3 (issue 12, lever 4): a short L2 fine-tune at a low rate from the stage-2 model, same data
# and held-out images as stage 2, weights averaged. Run from the repository root; run again to resume.
D=../shared/datasets
exec abpn-tool train --data $D/T91 --data $D/BSD200 --data $D/BSDS500_test --data $D/Kodak24 \
    --hold-out-from $D/BSDS500_test --hold-out-from $D/Kodak24 --small-patch 32 \
    --rescale 0.9,0.8,0.7,0.6 --ema --init models/runs/finetune2/best.keras --loss l2 \
    --preset cpu100k --epochs 4 --steps-per-epoch 500 --lr 1e-5 --halve-every 1000 --seed 4 \
    --out models/runs/finetune3 "$@"
