#!/bin/sh
# Issue 21, pilot (c): the control for pilot (b). Plain ABPN from random weights, with everything else
# as (b): data, small patches, rescaled copies, L1, EMA 0.999, held-out images, seed 5, rate 2.5e-4 and
# schedule. (b) − (c) at equal iterations is what --reparam gives from scratch; (b) − (a) cannot say
# that, since (a) starts from a model that has had some 85k iterations. Not run in the first session
# (the 2 cores went to (a) and (b)); `sh models/runs/pilots.sh 10 a b c` runs it to the same 5,000.
#
# Run from the repository root with the venv's abpn-tool on the PATH; run again to resume.
# ABPN_DATASETS: the datasets folder (default ../shared/datasets).
D=${ABPN_DATASETS:-../shared/datasets}
exec nice -n 19 abpn-tool train --data $D/T91 --data $D/BSD200 --data $D/BSDS500_test --data $D/Kodak24 \
    --hold-out-from $D/BSDS500_test --hold-out-from $D/Kodak24 --small-patch 32 \
    --rescale 0.9,0.8,0.7,0.6 --ema \
    --preset cpu100k --epochs 300 --steps-per-epoch 500 --lr 2.5e-4 --halve-every 50 --seed 5 \
    --out models/runs/pilot_c "$@"
