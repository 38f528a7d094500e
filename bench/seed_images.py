"""Fill a moto account with N images and N snapshots owned by a vibes project (tagged as vibes
tags what it makes), so that `vibes plan` has many EC2 things to read. Prints the image ids to
IMAGES_FILE and the snapshot ids to SNAPSHOTS_FILE, one a line.
Usage: python seed_images.py PROJECT N IMAGES_FILE SNAPSHOTS_FILE"""
import sys

import boto3

project, n, images_file, snapshots_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ec2 = boto3.client("ec2")


def tags(kind, i):
    return [{"ResourceType": kind, "Tags": [
        {"Key": "vibes:project", "Value": project},
        {"Key": "vibes:address", "Value": f"{'image' if kind == 'image' else 'snapshot'}.old{i}"},
    ]}]


base_ami = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
instance = ec2.run_instances(ImageId=base_ami, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]["InstanceId"]
volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
with open(images_file, "w") as imgs, open(snapshots_file, "w") as snaps:
    for i in range(n):
        image = ec2.create_image(InstanceId=instance, Name=f"{project}-old{i}", TagSpecifications=tags("image", i))["ImageId"]
        imgs.write(image + "\n")
        snap = ec2.create_snapshot(VolumeId=volume, TagSpecifications=tags("snapshot", i))["SnapshotId"]
        snaps.write(snap + "\n")
ec2.terminate_instances(InstanceIds=[instance])
ec2.delete_volume(VolumeId=volume)
