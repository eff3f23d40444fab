#!/bin/sh
# Issue 21, pilot (a): the shipped float model (stage 4, runs/finetune3/best.keras) trained on with
# the current best recipe: T91 + BSD200 + BSDS500_test + Kodak24, the small T91 images with 32x32
# patches, rescaled copies, L1, weights averaged (EMA 0.999). Held out: every 10th image of
# BSDS500_test + Kodak24, the 23 images every stage since issue 12 validated on.
#
# The schedule is the long run's (issue 21 step 2): 300 epochs of 500 = 150k iterations, the rate
# halved every 25k. The pilot is its first 5,000 iterations (pilots.sh stops it there); if (a) wins,
# running this script again continues the same run into the long one. Pilot (b) has the same
# options except the start and the initial rate.
#
# Run from the repository root with the venv's abpn-tool on the PATH; run again to resume.
# ABPN_DATASETS: the datasets folder (default ../shared/datasets).
D=${ABPN_DATASETS:-../shared/datasets}
exec nice -n 19 abpn-tool train --data $D/T91 --data $D/BSD200 --data $D/BSDS500_test --data $D/Kodak24 \
    --hold-out-from $D/BSDS500_test --hold-out-from $D/Kodak24 --small-patch 32 \
    --rescale 0.9,0.8,0.7,0.6 --ema --init models/runs/finetune3/best.keras \
    --preset cpu100k --epochs 300 --steps-per-epoch 500 --lr 2.5e-4 --halve-every 50 --seed 5 \
    --out models/runs/pilot_a "$@"
