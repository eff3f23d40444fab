#!/bin/sh
# Stage 2 fine-tune (issue 12): the shipped float model on T91 + BSD200 + BSDS500_test + Kodak24,
# small T91 images with 32x32 patches, rescaled copies, weights averaged (EMA 0.999). Validation:
# every 10th image of BSDS500_test + Kodak24 (never trained on, by this run or the shipped one).
# Run from the repository root; run it again to resume after an interruption.
D=../shared/datasets
exec abpn-tool train --data $D/T91 --data $D/BSD200 --data $D/BSDS500_test --data $D/Kodak24 \
    --hold-out-from $D/BSDS500_test --hold-out-from $D/Kodak24 --small-patch 32 \
    --rescale 0.9,0.8,0.7,0.6 --ema --init models/runs/finetune/best.keras \
    --preset cpu100k --epochs 30 --steps-per-epoch 500 --lr 2.5e-4 --halve-every 8 --seed 3 \
    --out models/runs/finetune2 "$@"
