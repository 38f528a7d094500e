# The vibes "worker" image: the compile worker: the encoders (flac, lame, vorbis-tools, opus-tools), rsync, the aws CLI, the vibes binary built from the source tarball, and the boot unit that compiles once and powers off.
# Built by the CodeBuild project of cfn/main.yaml from the recipe files vibes uploads; the image carries the
# tags given in `tags` (VIBES_TAGS), which is how vibes finds it afterwards.
# Check: `packer validate worker.pkr.hcl` (Packer 1.6 and later; no AWS credentials needed).

variable "project" {
  type        = string
  description = "vibes project name: prefixes the image name; every resource the build makes is tagged with it."
  default     = "vibes"
}

variable "tags" {
  type        = map(string)
  description = "Tags of the image and its snapshot, given at creation (JSON map, from VIBES_TAGS)."
  default     = {}
}

variable "arch" {
  type        = string
  description = "CPU architecture: arm64 or x86_64."
  default     = "arm64"
}

variable "region" {
  type    = string
  default = env("AWS_DEFAULT_REGION")
}

variable "subnet_id" {
  type        = string
  description = "A subnet with internet access for the build instance; empty for the default VPC."
  default     = ""
}

variable "instance_type" {
  type        = string
  description = "Build instance type; empty for the default of the architecture."
  default     = ""
}

variable "source_tarball" {
  type        = string
  description = "The vibes source tarball vibes uploads next to the recipe (the build runs in the recipe's directory)."
  default     = "vibes-src.tar.gz"
}

locals {
  # Debian names its images by Debian architecture names.
  debian_arch   = { arm64 = "arm64", x86_64 = "amd64" }[var.arch]
  instance_type = var.instance_type != "" ? var.instance_type : { arm64 = "c7g.xlarge", x86_64 = "c7i.xlarge" }[var.arch]
  stamp         = formatdate("YYYYMMDD-hhmmss", timestamp())
}

source "amazon-ebs" "worker" {
  region                      = var.region
  ami_name                    = "${var.project}-worker-${local.stamp}"
  instance_type               = local.instance_type
  subnet_id                   = var.subnet_id
  associate_public_ip_address = true
  ssh_username                = "admin"
  # Debian 12 (bookworm) from Debian's own account.
  source_ami_filter {
    filters = {
      name                = "debian-12-${local.debian_arch}-*"
      architecture        = var.arch
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["136693071363"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 30
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    delete_on_termination = true
  }
  # Every tag is given at creation: the build role (cfn/main.yaml ImageBuildRole) tags nothing after the
  # fact, and creates nothing without vibes:project. run_tags go on the instance, its network interface,
  # the temporary key pair and security group, and, at CreateImage, on the image and its snapshot: so
  # the image carries `tags` (VIBES_TAGS) from the start. run_volume_tags go on the build's volume.
  # https://developer.hashicorp.com/packer/integrations/hashicorp/amazon/latest/components/builder/ebs#run_tags
  # Hence no `tags`/`snapshot_tags` (Packer adds those with CreateTags once the image exists) and no
  # `ami_description` (Packer sets it with ModifyImageAttribute, which the role does not grant).
  run_tags = merge(var.tags, {
    "vibes:project" = var.project
    Name            = "${var.project}-worker"
  })
  run_volume_tags = {
    "vibes:project" = var.project
    Name            = "${var.project}-worker-image-build"
  }
}

build {
  sources = ["source.amazon-ebs.worker"]

  provisioner "shell" {
    inline = ["mkdir -p /tmp/vibes-files"]
  }

  provisioner "file" {
    source      = "${path.root}/files/worker/"
    destination = "/tmp/vibes-files"
  }

  provisioner "file" {
    source      = var.source_tarball
    destination = "/tmp/vibes-src.tar.gz"
  }

  provisioner "shell" {
    inline = ["sudo bash /tmp/vibes-files/install.sh /tmp/vibes-src.tar.gz"]
  }
}
