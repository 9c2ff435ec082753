#!/usr/bin/env bash
# Run Molecule scenarios one after another: scripts/molecule.sh SCENARIO...
# The shared platform lives in .config/molecule/config.yml; the host image is the locally built base.
set -euo pipefail
cd "$(dirname "$0")/.."
export SKYHUB_HOST_IMAGE="${SKYHUB_HOST_IMAGE:-$(.venv/bin/skyhub base-image host --print-ref)}"
export SKYHUB_PYTHON_IMAGE="${SKYHUB_PYTHON_IMAGE:-$(.venv/bin/skyhub base-image python --print-ref)}"
# TLJH's release sdist (vendored beside the repository; SKYHUB_VENDOR_DIR elsewhere)
export SKYHUB_TLJH_ARCHIVE="${SKYHUB_TLJH_ARCHIVE:-$(.venv/bin/skyhub vendor tljh-archive)}"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
export PY_COLORS=0
# suffix of the test host names (two checkouts on one engine); empty by default
export SKYHUB_INSTANCE_SUFFIX="${SKYHUB_INSTANCE_SUFFIX:-}"
failed=()
for s in "$@"; do
  start=$(date +%s)
  echo "==> molecule scenario ${s} (host image ${SKYHUB_HOST_IMAGE})"
  # SKYHUB_KEEP_APPLIANCE=1 (make test): keep the converged appliance host for the security tier, which
  # attacks it and then destroys it (one converge serves both)
  destroy=always
  if [[ "${s}" == appliance && "${SKYHUB_KEEP_APPLIANCE:-0}" == 1 ]]; then destroy=never; fi
  if .venv/bin/molecule test -s "${s}" --destroy "${destroy}"; then
    echo "==> molecule ${s}: ok in $(( $(date +%s) - start )) s"
    [[ "${s}" == appliance ]] && rm -f build/appliance-failed
  else
    echo "==> molecule ${s}: FAILED after $(( $(date +%s) - start )) s"
    failed+=("${s}")
    if [[ "${destroy}" == never ]]; then
      # a half-converged host is no target for the security tier: it says so instead of attacking it
      .venv/bin/molecule destroy -s appliance >/dev/null || true
      mkdir -p build && echo "molecule appliance failed at $(date -u +%FT%TZ)" > build/appliance-failed
    fi
  fi
done
if (( ${#failed[@]} )); then
  echo "failed scenarios: ${failed[*]}"
  exit 1
fi
