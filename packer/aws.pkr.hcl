# The AMI source, as Packer 1.6.6 (Debian's) reads it. Packer >= 1.7 reads packer/modern/aws.pkr.hcl
# instead: the same settings plus IMDSv2-only (build instance and AMI) and deprecate_at, which 1.6.6 cannot
# parse. With 1.6.6, `skyhub build --target aws` marks the finished AMIs IMDSv2-only and sets their
# deprecation date itself (docs/packer.md, docs/publishing.md).
# tests/unit/build checks that the two files differ only by those settings.
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
}
