# skyhub: one template, two sources, one playbook.
#   amazon-ebs.aws  -> the AMI (Ubuntu 24.04 by default, Debian 12 optional)
#   docker.local    -> the local twin: a systemd image built from the locally made Debian 12 base
# Both run playbooks/site.yml (the same roles, the same variables), then packer/playbooks/image.yml
# (first-boot unit + image cleanup: no secrets, keys, history, logs or machine-id in the image).
#
# Files: variables.pkr.hcl (inputs), this file (locals, docker source, build), aws.pkr.hcl (amazon-ebs).
# Written for Packer 1.6.6 (Debian's) and newer. Settings 1.6.6 cannot parse live in packer/modern/, whose
# files replace the same-named files here for Packer >= 1.7 (`skyhub build` stages that; docs/packer.md).

locals {
  # skyhub build passes repo_root (it runs Packer on a staged copy of this directory, see docs/packer.md).
  repo_root        = var.repo_root != "" ? var.repo_root : abspath("${path.root}/..")
  ansible_playbook = var.ansible_playbook != "" ? var.ansible_playbook : "${local.repo_root}/.venv/bin/ansible-playbook"

  # Base AMI lookup by OS: owner account and name pattern of the official images.
  aws_bases = {
    "ubuntu-24.04" = {
      owner       = "099720109477" # Canonical
      name        = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
      ssh_user    = "ubuntu"
      root_device = "/dev/sda1"
    }
    "debian-12" = {
      owner       = "136693071363" # Debian
      name        = "debian-12-amd64-*"
      ssh_user    = "admin"
      root_device = "/dev/xvda"
    }
  }
  aws_base = local.aws_bases[var.aws_base_os]

  # Tags are for the owner's bookkeeping (AWS does not show them to other accounts); what a user of a public
  # AMI sees is its name and description, so both say what it is and which commit built it.
  image_tags = merge(var.aws_tags, {
    Name                  = "${var.image_name}-${var.version}"
    "skyhub:image"        = var.image_summary
    "skyhub:version"      = var.version
    "skyhub:git-revision" = var.git_revision
    "skyhub:git-commit"   = var.git_commit
    "skyhub:git-dirty"    = var.git_dirty
    "skyhub:base-os"      = var.aws_base_os
    "skyhub:visibility"   = var.aws_public ? "public" : "private"
  })
  ami_description = "skyhub ${var.version} (commit ${var.git_revision}): ${var.image_summary}, on ${var.aws_base_os}"

  # Launch permission for everyone only on an unencrypted image: AWS cannot share an encrypted AMI publicly.
  # Packer 1.6.6 has no assertion block; a file() call on a message stops validation with that message.
  # `skyhub build` refuses the combination earlier, naming the options (src/skyhub/build/publish.py).
  ami_groups = var.aws_public ? (
    var.aws_encrypt_boot || var.aws_kms_key_id != "" ?
    [file("ERROR: aws_public = true needs aws_encrypt_boot = false and no aws_kms_key_id (AWS cannot share an encrypted AMI publicly)")] :
    ["all"]
  ) : []

  # The same ansible-playbook arguments for both sources (vars files as -e @FILE).
  vars_args = flatten([for f in var.vars_files : ["-e", "@${f}"]])
  verbosity = var.ansible_verbosity == "" ? [] : [var.ansible_verbosity]
  docker_args = [
    "-e", "ansible_connection=docker",
    "-e", "ansible_host=${var.docker_container_name}",
    "-e", "ansible_python_interpreter=/usr/bin/python3",
  ]
  ansible_env = [
    "ANSIBLE_CONFIG=${local.repo_root}/ansible.cfg",
    "ANSIBLE_ROLES_PATH=${local.repo_root}/roles",
    "ANSIBLE_HOST_KEY_CHECKING=False",
    "ANSIBLE_FORCE_COLOR=0",
  ]
}

source "docker" "local" {
  image  = var.docker_base_image
  pull   = false
  commit = true
  # systemd as PID 1 with the flags a systemd container needs here (docs/testing.md); the builder's default
  # `--entrypoint=/bin/sh` would leak into the committed image, so the whole command is given.
  run_command = [
    "-d", "-i", "-t",
    "--name", var.docker_container_name,
    "--hostname", "skyhub-build",
    "--label", "org.skyhub.area=image-build",
    "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--device", "/dev/fuse",
    "-v", "/var/lib/docker",
    "{{.Image}}", "/sbin/init",
  ]
  # docker 20.10 refuses STOPSIGNAL here: run instances with --stop-signal SIGRTMIN+3 (skyhub does).
  changes = [
    "CMD [\"/sbin/init\"]",
    "ENV container=docker",
    "LABEL org.skyhub.version=${var.version}",
    "LABEL org.skyhub.git-revision=${var.git_revision}",
    "LABEL org.skyhub.git-commit=${var.git_commit}",
    "LABEL org.skyhub.git-dirty=${var.git_dirty}",
    "LABEL org.skyhub.stop-signal=SIGRTMIN+3",
  ]
}

build {
  description = "skyhub hub image: the AMI and its local twin from one playbook"
  sources     = ["source.amazon-ebs.aws", "source.docker.local"]

  # 1. The hub: the same playbook and variables as any other host.
  provisioner "ansible" {
    command          = local.ansible_playbook
    playbook_file    = "${local.repo_root}/${var.playbook}"
    groups           = ["hub"]
    host_alias       = "skyhub-image"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.vars_args, local.verbosity, ["-e", "skyhub_image_build=true"])
    only             = ["amazon-ebs.aws"]
  }
  provisioner "ansible" {
    command          = local.ansible_playbook
    playbook_file    = "${local.repo_root}/${var.playbook}"
    groups           = ["hub"]
    host_alias       = "skyhub-image"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.docker_args, local.vars_args, local.verbosity, ["-e", "skyhub_image_build=true"])
    only             = ["docker.local"]
  }

  # 2. Per-instance first boot + image cleanup (always last).
  provisioner "ansible" {
    command          = local.ansible_playbook
    playbook_file    = "${local.repo_root}/packer/playbooks/image.yml"
    groups           = ["hub"]
    host_alias       = "skyhub-image"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.vars_args, local.verbosity)
    only             = ["amazon-ebs.aws"]
  }
  provisioner "ansible" {
    command          = local.ansible_playbook
    playbook_file    = "${local.repo_root}/packer/playbooks/image.yml"
    groups           = ["hub"]
    host_alias       = "skyhub-image"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.docker_args, local.vars_args, local.verbosity)
    only             = ["docker.local"]
  }

  # 3. The last step: what the plays themselves leave behind (Ansible's own directories) and Packer's temporary
  #    SSH key (amazon-ebs; cloud-init installs the instance owner's key at first boot) go, then the build FAILS
  #    if anything on the first_boot role's list of per-instance secrets (roles/first_boot/vars/main.yml) is
  #    still on the disk. The same program and list as the image cleanup (docs/first-boot.md).
  provisioner "file" {
    source      = "${local.repo_root}/roles/first_boot/files/skyhub_image_secrets.py"
    destination = "/tmp/skyhub-image-secrets.py"
  }
  provisioner "file" {
    source      = "${local.repo_root}/roles/first_boot/vars/main.yml"
    destination = "/tmp/skyhub-image-secrets.yml"
  }
  provisioner "shell" {
    execute_command = "sudo -n sh -c '{{ .Vars }} {{ .Path }}' || sh -c '{{ .Vars }} {{ .Path }}'"
    inline = [
      # journald would write new journal files between this check and the snapshot (seen in a loaded run):
      # stop it and its sockets first; the image's units are unchanged, so every instance starts it again
      "if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl stop systemd-journald.socket systemd-journald-dev-log.socket systemd-journald-audit.socket systemd-journald.service || true; fi",
      "python3 /tmp/skyhub-image-secrets.py --list /tmp/skyhub-image-secrets.yml --remove",
      "find /tmp /var/tmp -mindepth 1 -maxdepth 1 ! -name 'script_*' ! -name 'skyhub-image-secrets.*' -exec rm -rf {} +",
      "python3 /tmp/skyhub-image-secrets.py --list /tmp/skyhub-image-secrets.yml --check",
      "rm -f /tmp/skyhub-image-secrets.py /tmp/skyhub-image-secrets.yml",
    ]
  }

  post-processor "docker-tag" {
    only       = ["docker.local"]
    repository = var.docker_repository
    tags       = [var.docker_tag]
  }

  post-processor "manifest" {
    output     = "${local.repo_root}/build/packer-manifest.json"
    strip_path = true
    custom_data = {
      version      = var.version
      git_revision = var.git_revision
      git_commit   = var.git_commit
      git_dirty    = var.git_dirty
      public       = var.aws_public ? "true" : "false"
      deprecate_at = var.aws_deprecate_at
    }
  }
}
