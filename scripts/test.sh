#!/usr/bin/env bash
# `make test`: every tier (lint, unit, molecule, security, integration, image); each runs, and the run fails
# if any failed. Tier times go to build/tiers.tsv and are printed at the end.
#
# Sequential by default (CI). SKYHUB_TEST_LANES=1 runs the four Docker tiers as two lanes at once after lint
# and unit: molecule then security (security attacks the appliance host molecule kept) beside integration
# then image. The lanes share nothing but the Docker engine: their test hosts have their own names, and what
# both need (base images, Debian packages, the science images archive) is made once before they start.
# On 2 cores the lanes slow each other down; see docs/testing.md for the measured gain.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
rm -f build/tiers.tsv build/lane-*.failed
export SKYHUB_KEEP_APPLIANCE=1 # one molecule converge serves the security tier too
start=$(date +%s)

tiers() { # tiers FILE NAME... : run each tier; the names of those that failed are added to FILE
  local out=$1 t
  shift
  for t in "$@"; do
    make --no-print-directory "$t" || echo "$t" >>"$out"
  done
}

tiers build/lane-0.failed lint unit
if [[ "${SKYHUB_TEST_LANES:-0}" == 1 ]]; then
  echo "==> make test: prerequisites of both lanes, once"
  if make --no-print-directory base-images \
    && .venv/bin/skyhub host-deps integration && .venv/bin/skyhub host-deps image \
    && .venv/bin/skyhub science-images >/dev/null; then
    echo "==> make test: lanes [a] molecule, security  |  [b] integration, image"
    tiers build/lane-a.failed molecule security 2>&1 | sed -u 's/^/[a] /' &
    tiers build/lane-b.failed integration image 2>&1 | sed -u 's/^/[b] /' &
    wait
  else
    echo prerequisites >>build/lane-0.failed
  fi
else
  tiers build/lane-0.failed molecule security integration image
fi

.venv/bin/python scripts/tier.py --report
failed=$(cat build/lane-*.failed 2>/dev/null | xargs)
echo "make test: $(($(date +%s) - start)) s"
if [[ -n "$failed" ]]; then
  echo "make test: FAILED tiers: $failed"
  exit 1
fi
echo "make test: all tiers passed"
