# The AMI source for Packer >= 1.7 (replaces packer/aws.pkr.hcl; see docs/packer.md): identical to it plus
# IMDSv2 only, one hop, on the build instance and on the AMI, and the AMI's deprecation date (deprecate_at).
source "amazon-ebs" "aws" {
  region          = var.aws_region
  ami_regions     = var.aws_ami_regions
  instance_type   = var.aws_instance_type
  subnet_id       = var.aws_subnet_id == "" ? null : var.aws_subnet_id
  ssh_username    = local.aws_base.ssh_user
  ami_name        = "${var.image_name}-${var.version}-${var.aws_base_os}-{{timestamp}}"
  ami_description = local.ami_description

  # The newest official image of the chosen OS, from its publisher's account only.
  source_ami_filter {
    filters = {
      name                = local.aws_base.name
      architecture        = "x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = [local.aws_base.owner]
    most_recent = true
  }

  # Encrypted root volume and AMI (KMS key: the account default unless aws_kms_key_id is set), except for a
  # public image: AWS cannot share an encrypted AMI publicly (docs/publishing.md).
  encrypt_boot = var.aws_encrypt_boot
  kms_key_id   = var.aws_kms_key_id == "" ? null : var.aws_kms_key_id
  # Launch permission: [] (private) or ["all"] (aws_public), in the build region and every copy.
  ami_groups = local.ami_groups
  launch_block_device_mappings {
    device_name           = local.aws_base.root_device
    volume_size           = var.aws_root_volume_gb
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    encrypted             = var.aws_encrypt_boot
    delete_on_termination = true
  }

  tags            = local.image_tags
  snapshot_tags   = local.image_tags
  run_tags        = merge(local.image_tags, { Name = "${var.image_name}-packer-build" })
  run_volume_tags = local.image_tags

  # IMDSv2 only, one hop: containers on the instance cannot reach the metadata service.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  # Instances launched from the AMI default to IMDSv2 only.
  imds_support = "v2.0"
  # Deprecation date in every region (Packer 1.6.6 does not know deprecate_at: skyhub build sets it after).
  deprecate_at = var.aws_deprecate_at == "" ? null : var.aws_deprecate_at
}
