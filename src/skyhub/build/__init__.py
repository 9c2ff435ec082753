"""Build the hub image with Packer: the AMI (amazon-ebs) and the local twin (docker). See docs/packer.md."""
