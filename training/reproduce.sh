#!/usr/bin/env bash
# Reproduces every model in models/ and every number in training/results/ from the raw Fashion-MNIST files.
# Data: ../shared/data/fashion-mnist (or AEZ_DATA=/path/to/folder with the four IDX .gz files).
# On a CUDA GPU the whole run takes about 13 minutes (H200); on 2 CPU cores, many hours (resumable: rerun it).
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install -q -r requirements.txt
export PYTHONUNBUFFERED=1
python3 -m aez_train.train --out runs                 # phases float (study + improved), rate, dec
python3 -m aez_train.train --out runs --plan refine   # a finer rate grid near 21.1 dB
python3 -m aez_train.ship --runs runs                 # tables, selection on validation, export, checks, results/
for d in ../models/*/; do python3 -m aez_train.bundle --verify "$d"; done
