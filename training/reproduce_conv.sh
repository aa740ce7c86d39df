#!/usr/bin/env bash
# Reproduces models/gray-conv, models/photo-conv and results/conv.md (the convolutional models).
# Data: ../../shared/data/{fashion-mnist,bsds500,kodak} (or AEZ_DATA=fashion-mnist folder, AEZ_SHARED_DATA=data
# root). On 2 CPU cores the trainings below take about 40 and 70 minutes of training time (the budgets);
# a run interrupted (or stopped with a STOP file in its folder) resumes when the same command is rerun.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install -q -r requirements.txt
export PYTHONUNBUFFERED=1
T="nice -n 19 python3 -m aez_train.conv_train --threads 1"
$T --family gray  --out runs/conv-gray  --budget-min 40 --eval-every 2000 > runs/conv-gray.log 2>&1 &
$T --family photo --out runs/conv-photo --budget-min 70 --eval-every 1500 > runs/conv-photo.log 2>&1 &
wait
python3 -m aez_train.conv_ship --run runs/conv-gray  --name gray-conv  --out ../models/gray-conv
python3 -m aez_train.conv_ship --run runs/conv-photo --name photo-conv --out ../models/photo-conv
python3 -m aez_train.conv_results runs/conv-gray runs/conv-photo > results/conv.md
for d in ../models/gray-conv ../models/photo-conv; do python3 -m aez_train.bundle --verify "$d"; done

# models/fmnist-conv (results/fmnist-v2.md), made from runs/conv-gray after the above. The commands as they
# were run; the first was stopped by hand (a STOP file) at iteration 22,000, and the second was restarted once
# with --budget-min 64 (first 115), so a rerun of them gives a similar model, not the same bytes:
#   cp -r runs/conv-gray runs/conv-gray-long
#   python3 -m aez_train.conv_train --family gray --out runs/conv-gray-long --budget-min 130 --lr 5e-4 \
#       --eval-every 2000 --threads 2          # STOP at iteration 22,000
#   cp -r runs/conv-gray-long runs/conv-gray-high
#   python3 -m aez_train.conv_train --family gray --out runs/conv-gray-high --budget-min 64 --lr 5e-4 \
#       --eval-every 2000 --threads 2 --levels 7-12
#   python3 -m aez_train.conv_ship --run runs/conv-gray-high --name fmnist-conv --out ../models/fmnist-conv \
#       --fixed-size 28 --levels 7-12 --first-quality 8 --default-level 1

# models/fmnist-conv-sets (results/fmnist-v2.md, "Table sets"): fmnist-conv's networks and quantizers with
# 64 sets of tables per level fitted on the training split (deterministic: seeded k-means, then EM):
python3 -m aez_train.sets --bundle ../models/fmnist-conv --name fmnist-conv-sets --out ../models/fmnist-conv-sets \
    --sets 64 --alpha 0.3 --trim 1e-4

# models/photo-conv as shipped since 2026-12-01 15:20 UTC (results/conv.md): runs/conv-photo continued, as run:
#   cp -r runs/conv-photo runs/conv-photo-long
#   python3 -m aez_train.conv_train --family photo --out runs/conv-photo-long --budget-min 140 \
#       --eval-every 1000 --threads 2        # STOP at iteration 19,796
#   python3 -m aez_train.conv_ship --run runs/conv-photo-long --name photo-conv --out ../models/photo-conv
