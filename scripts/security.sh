#!/usr/bin/env bash
# The security tier: tests/security (attacks by signed-in users, through the hub) against the Molecule
# appliance host. Reuses the host `make molecule` kept (SKYHUB_KEEP_APPLIANCE=1 in `make test`); converges
# one when there is none. Destroys it afterwards unless SKYHUB_SECURITY_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export SKYHUB_HOST_IMAGE="${SKYHUB_HOST_IMAGE:-$(.venv/bin/skyhub base-image host --print-ref)}"
export SKYHUB_PYTHON_IMAGE="${SKYHUB_PYTHON_IMAGE:-$(.venv/bin/skyhub base-image python --print-ref)}"
export SKYHUB_INSTANCE_SUFFIX="${SKYHUB_INSTANCE_SUFFIX:-}"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
host="skyhub-appliance${SKYHUB_INSTANCE_SUFFIX}"
if [[ "${SKYHUB_KEEP_APPLIANCE:-0}" == 1 && -e build/appliance-failed ]]; then
  echo "==> security: not run: the molecule tier's appliance scenario failed ($(cat build/appliance-failed));"
  echo "    attacks on a half-converged host would fail for the wrong reason. Fix that tier first."
  exit 1
fi
if [[ "$(docker inspect -f '{{.State.Running}}' "${host}" 2>/dev/null)" != true ]]; then
  echo "==> security: no appliance host ${host}; converging one (molecule converge -s appliance)"
  SKYHUB_UPGRADE_CHECK="${SKYHUB_UPGRADE_CHECK:-0}" .venv/bin/molecule converge -s appliance
fi
status=0
.venv/bin/pytest -q -p no:cacheprovider tests/security "--hosts=docker://${host}" "$@" || status=$?
if [[ "${SKYHUB_SECURITY_KEEP:-0}" != 1 ]]; then .venv/bin/molecule destroy -s appliance >/dev/null; fi
exit "${status}"
