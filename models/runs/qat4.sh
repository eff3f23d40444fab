#!/bin/sh
# Issue 21, step 3: QAT of the long run's best float model, exactly as stage 5's QAT (qat3.sh: 3,000
# iterations, EMA, the best epoch chosen on the INT8 flatbuffer), from the frozen copy
# runs/long_b.keras (pilot_b/best.keras when the long run was stopped for it, its branches merged:
# the same plain ABPN that QAT would build from pilot_b/best.keras). Run from the repository root;
# run again to resume. ABPN_DATASETS: the datasets folder (default ../shared/datasets).
D=${ABPN_DATASETS:-../shared/datasets}
exec nice -n 10 abpn-tool quantize models/runs/long_b.keras --data $D/T91 --data $D/BSD200 --data $D/BSDS500_test \
    --data $D/Kodak24 --hold-out-from $D/BSDS500_test --hold-out-from $D/Kodak24 --small-patch 32 \
    --rescale 0.9,0.8,0.7,0.6 --ema --preset paper --epochs 6 --steps-per-epoch 500 --seed 3 --out models/runs/qat4 "$@"
