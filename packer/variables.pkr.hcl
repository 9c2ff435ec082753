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
  description = "Git revision of the tree the image is built from (tags and labels)."
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
  description = "More regions the finished AMI is copied to (empty: none)."
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
  description = "Root volume size in GiB (gp3, encrypted)."
}

variable "aws_kms_key_id" {
  type        = string
  default     = ""
  description = "KMS key for the encrypted root volume and AMI (empty: the account's default EBS key)."
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
