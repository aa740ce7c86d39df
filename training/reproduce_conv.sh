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
