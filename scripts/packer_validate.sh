#!/usr/bin/env bash
# `packer validate` of both sources of packer/ (amazon-ebs.aws and docker.local), without AWS credentials,
# and of the AMI's two modes (private, the default, and public: docs/publishing.md).
# Installs Debian's packer (1.6.6) when it is missing. packer/modern/ (Packer >= 1.7 only) is checked by
# tests/unit/build instead: 1.6.6 cannot parse it (docs/packer.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v packer >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "packer_validate: packer is missing; install it with: sudo apt-get install packer" >&2
    exit 1
  fi
  echo "packer_validate: installing Debian's packer"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q packer >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q packer >/dev/null; }
fi
# No credentials, no AWS config: validation must not need them.
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
clean_env=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE HOME="$home")
args=(-var "repo_root=$PWD" -var "ansible_playbook=$PWD/.venv/bin/ansible-playbook")
rc=0
for src in amazon-ebs.aws docker.local; do
  if "${clean_env[@]}" packer validate -only="$src" "${args[@]}" packer/ >"$home/out" 2>&1; then
    echo "packer validate $src: ok"
  else
    cat "$home/out" >&2
    echo "packer validate $src: FAILED" >&2
    rc=1
  fi
done
# The optional AMI settings validate too (Debian base, extra region, own KMS key and subnet).
if ! "${clean_env[@]}" packer validate -only=amazon-ebs.aws "${args[@]}" -var aws_base_os=debian-12 \
  -var 'aws_ami_regions=["eu-west-1"]' -var aws_kms_key_id=alias/skyhub -var aws_subnet_id=subnet-0 \
  packer/ >"$home/out" 2>&1; then
  cat "$home/out" >&2
  echo "packer validate amazon-ebs.aws (debian-12, options): FAILED" >&2
  rc=1
fi
# The template itself refuses a public encrypted image (the guard in skyhub.pkr.hcl, for Packer run by hand).
if "${clean_env[@]}" packer validate -only=amazon-ebs.aws "${args[@]}" -var aws_public=true packer/ \
  >"$home/out" 2>&1 || ! tr -s "\n " "  " <"$home/out" | grep -q "aws_public = true needs aws_encrypt_boot = false"; then
  cat "$home/out" >&2
  echo "packer validate amazon-ebs.aws (public + encrypted): NOT REFUSED" >&2
  rc=1
else
  echo "packer validate amazon-ebs.aws (public + encrypted): refused, as it must be"
fi
# Both modes as `skyhub build` generates their variables (its checks, then packer validate of the staged
# template); --allow-dirty because a working tree under development has uncommitted changes.
for mode in "" "--public --allow-dirty --regions us-east-1,us-west-2,eu-west-1"; do
  # shellcheck disable=SC2086  # $mode is a list of options
  if "${clean_env[@]}" .venv/bin/skyhub build --target aws --validate-only $mode >"$home/out" 2>&1; then
    echo "skyhub build --target aws --validate-only ${mode:-(private)}: ok"
  else
    cat "$home/out" >&2
    echo "skyhub build --target aws --validate-only ${mode:-(private)}: FAILED" >&2
    rc=1
  fi
done
exit $rc
