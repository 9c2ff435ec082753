# Read only by Packer >= 1.7 (`skyhub build` adds this directory for it; Debian's Packer 1.6.6 rejects the
# block and has no `packer init`). Run `packer init packer/modern` once before `packer build` by hand.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      version = ">= 1.2.0"
      source  = "github.com/hashicorp/amazon"
    }
    docker = {
      version = ">= 1.0.8"
      source  = "github.com/hashicorp/docker"
    }
    ansible = {
      version = ">= 1.1.0"
      source  = "github.com/hashicorp/ansible"
    }
  }
}
