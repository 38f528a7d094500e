#!/usr/bin/env bash
# Checks the platform assets, and exits non-zero if any check fails:
#   1. cfn-lint on every CloudFormation template (cfn/*.yaml)
#   2. packer validate on every recipe (packer/*.pkr.hcl)
#   3. shellcheck on every shell script of the platform, the recipes and CI
#   4. the vpc stack, then the main stack with the vpc stack's outputs, created on a moto server on a free
#      loopback port: both must reach CREATE_COMPLETE (moto leaves a failed stack *_IN_PROGRESS, so every
#      wait has a deadline).
# Needs what scripts/setup.sh installs (shellcheck, packer, and .venv with cfn-lint, moto and the aws CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${VIBES_VENV:-$root/.venv}

failures=()
fail() {
  echo "lint-assets: FAIL: $*" >&2
  failures+=("$*")
}

echo "== cfn-lint"
for t in cfn/*.yaml; do
  if "$venv/bin/cfn-lint" "$t"; then echo "ok   $t"; else fail "cfn-lint $t"; fi
done

echo "== packer validate"
# Debian's packer (1.6.6) validates HCL2 amazon-ebs recipes but knows no `packer init`: the plugin
# requirements are kept in packer/plugins.pkr.hcl.txt, which the image build copies in before `packer init`.
# A full validate (not -syntax-only) needs no AWS credentials: source_ami_filter is resolved at build time.
# The worker recipe ships the vibes source tarball, which vibes makes at upload time: a stand-in is used here.
tmp=$(mktemp -d)
moto_pid=
cleanup() {
  if [[ -n $moto_pid ]]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
tar -czf "$tmp/vibes-src.tar.gz" -C "$root" Cargo.toml
for r in packer/*.pkr.hcl; do
  vars=()
  grep -q '^variable "source_tarball"' "$r" && vars=(-var "source_tarball=$tmp/vibes-src.tar.gz")
  if (cd packer && packer validate "${vars[@]}" "$(basename "$r")"); then
    echo "ok   $r"
  else
    fail "packer validate $r"
  fi
done

echo "== shellcheck"
mapfile -t scripts < <(
  {
    find platform packer scripts .ci -type f \( -name '*.sh' -o -name 'run' \)
    grep -rlE '^#!/usr/bin/env bash|^#!/bin/(ba)?sh' platform packer .ci 2>/dev/null
  } | sort -u
)
for s in "${scripts[@]}"; do
  if shellcheck -x "$s"; then echo "ok   $s"; else fail "shellcheck $s"; fi
done

echo "== CloudFormation on moto"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_log=${VIBES_MOTO_LOG:-$tmp/moto.log}
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
moto_pid=$!
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
aws() { "$venv/bin/aws" --endpoint-url "http://127.0.0.1:$port" "$@"; }
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
  sleep 0.2
done

# Waits up to 60 s for a stack to leave *_IN_PROGRESS and checks it is CREATE_COMPLETE.
stack_complete() {
  local name=$1 status=""
  for _ in $(seq 120); do
    status=$(aws cloudformation describe-stacks --stack-name "$name" --query 'Stacks[0].StackStatus' --output text)
    [[ $status == *_IN_PROGRESS ]] || break
    sleep 0.5
  done
  echo "$name: $status"
  [[ $status == CREATE_COMPLETE ]]
}
output() {
  aws cloudformation describe-stacks --stack-name "$1" --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue" --output text
}

check_stacks() {
  local worker_subnet=$1 vpc=lint-vpc-$1 main=lint-main-$1
  aws cloudformation create-stack --stack-name "$vpc" --template-body file://cfn/vpc.yaml \
    --parameters "ParameterKey=Project,ParameterValue=lint-$1" "ParameterKey=WorkerSubnet,ParameterValue=$worker_subnet" >/dev/null
  stack_complete "$vpc" || return 1
  local o
  for o in VpcId PublicSubnetId PrivateSubnetId WorkerSubnetId AvailabilityZone; do
    [[ -n $(output "$vpc" "$o") && $(output "$vpc" "$o") != None ]] || { echo "$vpc: no output $o"; return 1; }
  done
  aws cloudformation create-stack --stack-name "$main" --template-body file://cfn/main.yaml \
    --capabilities CAPABILITY_IAM --parameters \
    "ParameterKey=Project,ParameterValue=lint-$1" \
    "ParameterKey=VpcId,ParameterValue=$(output "$vpc" VpcId)" \
    "ParameterKey=SubnetId,ParameterValue=$(output "$vpc" PublicSubnetId)" \
    "ParameterKey=WorkerSubnetId,ParameterValue=$(output "$vpc" WorkerSubnetId)" \
    "ParameterKey=AvailabilityZone,ParameterValue=$(output "$vpc" AvailabilityZone)" \
    "ParameterKey=SshCidr,ParameterValue=198.51.100.0/24" >/dev/null
  stack_complete "$main" || return 1
  # moto's CloudFormation does not model AWS::CodeBuild::Project (its output stays empty there): cfn-lint
  # checks that resource, and the buildspec is checked below.
  for o in SourcesBucket ArtifactsBucket WorkerLaunchTemplate ServerLaunchTemplate \
    AvailabilityZone WorkerInstanceProfile ServerSecurityGroup; do
    [[ -n $(output "$main" "$o") && $(output "$main" "$o") != None ]] || { echo "$main: no output $o"; return 1; }
  done
  # The launch template carries no image: launching takes the image id, as vibes does.
  local lt
  lt=$(output "$main" WorkerLaunchTemplate)
  aws ec2 describe-launch-template-versions --launch-template-id "$lt" \
    --query 'LaunchTemplateVersions[0].LaunchTemplateData.InstanceInitiatedShutdownBehavior' --output text | grep -qx stop ||
    { echo "$main: worker launch template does not stop on shutdown"; return 1; }
  local image instance
  image=$(aws ec2 describe-images --owners amazon --query 'Images[0].ImageId' --output text)
  instance=$(aws ec2 run-instances --launch-template "LaunchTemplateId=$lt" --image-id "$image" \
    --query 'Instances[0].InstanceId' --output text) || { echo "$main: cannot launch from $lt"; return 1; }
  aws ec2 terminate-instances --instance-ids "$instance" >/dev/null
}
echo "== the image build's buildspec"
# CodeBuild reads the inline buildspec only when a build starts: parse it now, and check its contract.
if "$venv/bin/python" - cfn/main.yaml <<'PY'; then echo "ok   cfn/main.yaml ImageBuildProject buildspec"; else fail "buildspec of cfn/main.yaml"; fi
import sys, yaml
class Loader(yaml.SafeLoader):
    pass
# CloudFormation short forms (!Ref, !Sub, ...) become plain values: only the buildspec text matters here.
Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
template = yaml.load(open(sys.argv[1]), Loader=Loader)
project = template["Resources"]["ImageBuildProject"]["Properties"]
spec = yaml.safe_load(project["Source"]["BuildSpec"])
assert spec["version"] == 0.2, spec["version"]
commands = " ".join(c for phase in spec["phases"].values() for c in phase["commands"])
for needed in ("RECIPE_PREFIX", "RECIPE", "VIBES_TAGS", "plugins.pkr.hcl.txt", "packer init", "packer build"):
    assert needed in commands, f"the buildspec does not use {needed}"
names = {v["Name"] for v in project["Environment"]["EnvironmentVariables"]}
# vibes_core::cloud::image_build_env: the names vibes starts a build with.
assert {"VIBES_RECIPE_BUCKET", "VIBES_RECIPE_PREFIX", "VIBES_RECIPE", "VIBES_TAGS"} <= names, names
PY

for placement in private public; do
  if check_stacks "$placement"; then echo "ok   vpc + main stacks (workers $placement)"; else fail "stacks on moto (workers $placement)"; fi
done

if ((${#failures[@]})); then
  printf 'lint-assets: %d check(s) failed:\n' "${#failures[@]}" >&2
  printf '  %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "lint-assets: all checks passed"
