#!/usr/bin/env bash
# Debian packages the tests drive for real: PostgreSQL (second database backend), Chromium (browser tests)
# and Node.js (npm installs s3rver, the local S3 server under the durable embedded broker).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -d /usr/lib/postgresql ] || need+=(postgresql)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# s3rver into the repo's node_modules, pinned by package-lock.json (streams/broker.py finds it there).
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/s3rver ] || npm ci --no-audit --no-fund --loglevel=error
