"""The seed's way of looking at a deployment, one call per thing, one after the other, made from
one boto3 process: the same requests as seed_observe.sh without the `aws` CLI's start-up per
call, i.e. the strictest per-thing baseline. Prints the number of calls made.
Usage: python seed_observe.py PROJECT PROFILES_FILE KEYS_FILE STACKS_FILE IMAGES_FILE SNAPSHOTS_FILE"""
import sys

import boto3

project, profiles, keys, stacks, images, snapshots = sys.argv[1:7]
ssm, ec2, cfn = boto3.client("ssm"), boto3.client("ec2"), boto3.client("cloudformation")


def lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


calls = 0
for p in lines(profiles):
    ssm.get_parameter(Name=f"/{project}/profiles/{p}")
    calls += 1
for k in lines(keys):
    ec2.describe_key_pairs(KeyNames=[f"{project}-{k}"])
    calls += 1
for s in lines(stacks):
    cfn.describe_stacks(StackName=s)
    calls += 1
for i in lines(images):
    ec2.describe_images(ImageIds=[i])
    calls += 1
for s in lines(snapshots):
    ec2.describe_snapshots(SnapshotIds=[s])
    calls += 1
print(calls)
