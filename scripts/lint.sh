#!/usr/bin/env bash
# Every static check, each reported separately; fails if any fails.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
status=0
step() {
  local name=$1; shift
  local start=$(date +%s)
  if "$@"; then echo "lint: ${name} ok ($(( $(date +%s) - start )) s)"; else echo "lint: ${name} FAILED"; status=1; fi
}
step yamllint "$BIN/yamllint" -s .
step "ruff check" "$BIN/ruff" check .
step "ruff format" "$BIN/ruff" format --check .
step ansible-lint "$BIN/ansible-lint" -q
syntax() {
  local rc=0
  for pb in playbooks/*.yml; do
    [ -e "$pb" ] || continue
    "$BIN/ansible-playbook" --syntax-check -i localhost, "$pb" >/dev/null || { echo "syntax error in $pb"; rc=1; }
  done
  return $rc
}
step "playbook syntax" syntax
step "docs/variables.md is fresh" "$BIN/python" scripts/gen_docs.py --check
step "lock files match their pins" "$BIN/python" scripts/lock.py --check
step "requirements.yml matches the ansible bundle" "$BIN/python" scripts/check_collections.py
if [ -x scripts/packer_validate.sh ]; then step "packer validate" bash scripts/packer_validate.sh; fi
exit $status
