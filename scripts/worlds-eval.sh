#!/usr/bin/env bash
# Issue 14, "Your worlds": every kind of new pattern on several generated worlds, the closed loop against
# exploration off (and the previous score-weighted exploration), with the per-kind targets table in
# OUT/worlds.md (see docs/worlds-2026-11.md). Run from anywhere; settings by environment:
#   KINDS   kinds of new pattern        (default: route cover rotation hub_mix)
#   SEEDS   generated worlds            (default: 1 2 3 4)
#   JOBS    worlds at once, one process each (default: 1; each takes about 9 minutes on the 2-core machine)
#   DAYS, NEW_DAY, PER_DAY, HISTORY     simulated days, the new pattern's day, parcels a day, history days
#                                       (defaults 20, 8, 3000, 30: a month of fully screened history, as a hub
#                                       joining from the model case has; docs/worlds-2026-11.md, third session)
#   OUT     output folder               (default: data/worlds-YYYY-MM-DD)
#   SCORE_EXPLORE=0                     skip the score-weighted exploration arm (a third less time)
set -euo pipefail
cd "$(dirname "$0")/.."
KINDS=${KINDS:-"route cover rotation hub_mix"}
SEEDS=${SEEDS:-"1 2 3 4"}
args=()
for kind in $KINDS; do args+=(--pattern "$kind"); done
for seed in $SEEDS; do args+=(--seed "$seed"); done
[ "${SCORE_EXPLORE:-1}" = 0 ] || args+=(--score-explore)
exec .venv/bin/parcelguard simulate --days "${DAYS:-20}" --new-pattern-day "${NEW_DAY:-8}" \
  --per-day "${PER_DAY:-3000}" --history-days "${HISTORY:-30}" --jobs "${JOBS:-1}" \
  --out "${OUT:-data/worlds-$(date +%F)}" "${args[@]}"
