# Inputs of the skyhub template (packer/skyhub.pkr.hcl). Set them with `skyhub build --var k=v`,
# `packer build -var k=v`, or a *.pkrvars.hcl file. See docs/packer.md.

variable "image_name" {
  type        = string
  default     = "skyhub"
  description = "Name prefix of the AMI and repository of the local image."
}

variable "version" {
  type        = string
  default     = "dev"
  description = "skyhub version written into tags, labels and the AMI name."
}

variable "git_revision" {
  type        = string
  default     = "unknown"
  description = "Short git revision of the tree the image is built from, \"-dirty\" appended when it has uncommitted changes (tags, labels, AMI description)."
}

variable "git_commit" {
  type        = string
  default     = "unknown"
  description = "Full git commit the image is built from (tag skyhub:git-commit, label)."
}

variable "git_dirty" {
  type        = string
  default     = "unknown"
  description = "\"true\" when the tree had uncommitted changes under the image's inputs, else \"false\" (tag skyhub:git-dirty, label)."
}

variable "image_summary" {
  type        = string
  default     = "JupyterHub (TLJH + DockerSpawner) with the HST public dataset (s3://stpubdata) mounted read-only"
  description = "What the image is: the AMI description (the one field every user of a public AMI sees) and the skyhub:image tag."
  validation {
    condition     = length(var.image_summary) <= 160
    error_message = "The image_summary value must be at most 160 characters (AMI descriptions are limited to 255)."
  }
}

# ---- what runs inside: the same playbook for both sources ----
variable "playbook" {
  type        = string
  default     = "playbooks/site.yml"
  description = "Playbook (relative to the repository root) that turns the build host into a hub."
}

variable "vars_files" {
  type        = list(string)
  default     = []
  description = "Extra vars files (relative to the repository root or absolute) given to every play as -e @FILE."
}

variable "ansible_playbook" {
  type        = string
  default     = ""
  description = "The ansible-playbook executable (empty: the project's .venv/bin/ansible-playbook)."
}

variable "repo_root" {
  type        = string
  default     = ""
  description = "Absolute path of the skyhub repository (empty: the parent of this template's directory)."
}

variable "ansible_verbosity" {
  type        = string
  default     = ""
  description = "Extra ansible-playbook flag such as -v (empty: none)."
}

# ---- docker source: the local twin ----
variable "docker_base_image" {
  type        = string
  default     = "skyhub/debian12-host:latest"
  description = "Local systemd base image (`skyhub base-image host --print-ref`)."
}

variable "docker_container_name" {
  type        = string
  default     = "skyhub-image-build"
  description = "Name of the build container (Ansible reaches it with the docker connection)."
}

variable "docker_repository" {
  type        = string
  default     = "skyhub/appliance"
  description = "Repository the committed image is tagged into."
}

variable "docker_tag" {
  type        = string
  default     = "dev"
  description = "Tag of the committed local image."
}

# ---- amazon-ebs source: the AMI ----
variable "aws_region" {
  type        = string
  default     = "us-east-1"
  description = "Region the AMI is built in."
}

variable "aws_ami_regions" {
  type        = list(string)
  default     = []
  description = "More regions the finished AMI is copied to (empty: none). `skyhub build --regions A,B,C` sets aws_region=A and this to [B, C]."
}

# ---- publishing (docs/publishing.md): `skyhub build --target aws --public` sets these and checks them ----
variable "aws_public" {
  type        = bool
  default     = false
  description = "Launch permission for everyone (ami_groups = [\"all\"]) in every region of the AMI. Needs aws_encrypt_boot = false and no aws_kms_key_id."
}

variable "aws_encrypt_boot" {
  type        = bool
  default     = true
  description = "Encrypt the root volume and the AMI. AWS cannot share an encrypted AMI publicly: false for a public image."
}

variable "aws_deprecate_at" {
  type        = string
  default     = ""
  description = "When the AMI is deprecated, UTC, YYYY-MM-DDTHH:MM:SSZ (empty: never; AWS sets 2 years for public AMIs). Packer >= 1.7 sets it in the build; with 1.6.6 `skyhub build` sets it afterwards."
}

variable "aws_instance_type" {
  type        = string
  default     = "t3.large"
  description = "Build instance type (the science images build on it: 2 vCPU / 8 GiB is comfortable)."
}

variable "aws_base_os" {
  type        = string
  default     = "ubuntu-24.04"
  description = "Base OS of the AMI: ubuntu-24.04 (Canonical) or debian-12 (Debian)."
  validation {
    condition     = contains(["ubuntu-24.04", "debian-12"], var.aws_base_os)
    error_message = "The aws_base_os value must be ubuntu-24.04 or debian-12."
  }
}

variable "aws_root_volume_gb" {
  type        = number
  default     = 30
  description = "Root volume size in GiB (gp3; encrypted unless aws_encrypt_boot = false)."
}

variable "aws_kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key for the encrypted root volume and AMI (empty: the account's default EBS key). Not with aws_public."
}

variable "aws_subnet_id" {
  type        = string
  default     = ""
  description = "Subnet of the build instance (empty: the default VPC)."
}

variable "aws_tags" {
  type        = map(string)
  default     = {}
  description = "Extra tags (e.g. cost allocation, skyhub_tags) on the AMI, its snapshots and the build instance."
}
