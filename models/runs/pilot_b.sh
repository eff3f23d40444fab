#!/bin/sh
# Issue 21, pilot (b): ABPN trained from random weights with re-parameterized branches (--reparam:
# 3x3, 1x1+3x3, Sobel/Laplacian and identity branches merged into each 3x3 conv), which is where
# ECBSR and SESR report their gains. Everything else as pilot (a): the same data, small patches,
# rescaled copies, L1, EMA 0.999, held-out images, seed, rate and schedule.
# The rate is 2.5e-4, not the paper's 1e-3 from scratch: each merged kernel moves by the sum of its
# branches' Adam steps, and at 1e-3 conv6's ReLUs all died within 100 steps, the model stuck at the
# anchor's output (runs/pilot_b_dead/; 3e-4 and 1e-4 kept them alive in a 120-step check).
#
# The schedule is the long run's (issue 21 step 2): 300 epochs of 500 = 150k iterations, the rate
# halved every 25k. The pilot is its first 5,000 iterations (pilots.sh stops it there); if (b) wins,
# running this script again continues the same run into the long one.
#
# Run from the repository root with the venv's abpn-tool on the PATH; run again to resume.
# ABPN_DATASETS: the datasets folder (default ../shared/datasets).
D=${ABPN_DATASETS:-../shared/datasets}
exec nice -n 19 abpn-tool train --data $D/T91 --data $D/BSD200 --data $D/BSDS500_test --data $D/Kodak24 \
    --hold-out-from $D/BSDS500_test --hold-out-from $D/Kodak24 --small-patch 32 \
    --rescale 0.9,0.8,0.7,0.6 --ema --reparam \
    --preset cpu100k --epochs 300 --steps-per-epoch 500 --lr 2.5e-4 --halve-every 50 --seed 5 \
    --out models/runs/pilot_b "$@"
