#!/usr/bin/env bash
# Korea customs declarations through the product's own commands, in a throw-away data dir:
# train on 2020, score 2021-Q1 with score-file, print precision at 1/2/5/10% and recall at 5%.
#   bash scripts/korea-eval.sh [DATA_DIR]     (default: ../shared/data/customs-kr beside the repository)
set -euo pipefail
DATA=${1:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data/customs-kr}
PG=${PARCELGUARD_BIN:-$(dirname "$0")/../.venv/bin/parcelguard}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PARCELGUARD_DATA_DIR="$WORK/data" PARCELGUARD_PRIORITY_ORIGINS='*' PARCELGUARD_DESTINATIONS=KR
unset PARCELGUARD_DATABASE_URL MLFLOW_TRACKING_URI
"$PG" --log-level WARNING train --manifests "$DATA/train_manifests.jsonl.gz" --outcomes "$DATA/train_outcomes.jsonl.gz" >&2
"$PG" --log-level WARNING score-file "$DATA/valid_manifests.jsonl.gz" --out "$WORK/decisions.jsonl" >&2
"$PG" evaluate --decisions "$WORK/decisions.jsonl" --outcomes "$DATA/valid_outcomes.jsonl.gz"
