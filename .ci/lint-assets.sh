#!/usr/bin/env bash
# Checks the platform assets, and exits non-zero if any check fails:
#   1. cfn-lint on every CloudFormation template (cfn/*.yaml)
#   2. packer validate on every recipe (packer/*.pkr.hcl)
#   3. shellcheck on every shell script of the platform, the recipes and CI
#   4. parliament on every IAM policy of the templates (no finding allowed but the skips it names)
#   5. the vpc stack, then the main stack with the vpc stack's outputs, created on a moto server on a free
#      loopback port: both must reach CREATE_COMPLETE (moto leaves a failed stack *_IN_PROGRESS, so every
#      wait has a deadline).
# Needs what scripts/setup.sh installs (shellcheck, packer, and .venv with cfn-lint, parliament, moto and the
# aws CLI).
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

echo "== IAM policies (parliament)"
# parliament (duo-labs, PyPI) checks each IAM policy against AWS's list of actions, resources and
# condition keys: unknown actions or condition keys, resources of the wrong kind for an action, Resource
# "*" where the action takes resource-level permissions, and (community auditors) privilege escalation,
# credentials exposure and permissions management. It reads policy JSON, not CloudFormation: every
# identity policy of cfn/*.yaml is analysed with its intrinsics resolved to placeholder values, as its CLI
# does with files. (In-process rather than through the CLI, because the CLI drops the ignore_locations
# of a --config file in 1.6.4: only the skips below, each at one statement, are taken.)
# checkov was weighed too: it pins boto3==1.35.49 and networkx<2.7, which would downgrade what moto and
# cfn-lint run on in the same .venv, and all its IAM checks pass the region-wide image build role this
# replaced, so it would not have caught that.
if "$venv/bin/python" - cfn/*.yaml <<'PY'; then echo "ok   IAM policies of cfn/*.yaml"; else fail "parliament on the IAM policies of cfn/*.yaml"; fi
import json, os, re, sys
from pathlib import Path
import yaml
import parliament
from parliament import analyze_policy_string, enhance_finding, override_config
from parliament.cli import is_finding_filtered

# The findings skipped, each only at the named statement, with the reason. parliament's RESOURCE_MISMATCH
# wants every required resource type of an action in each statement that grants it; IAM authorizes each
# resource of a request against all statements, and a tag condition can only hold for the resources that
# carry tags. So the creates are split as AWS documents for RunInstances
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html#iam-example-runinstances):
# the created resources with aws:RequestTag, the ones only used (image, subnet, VPC, the build instance)
# apart; the instance has a statement of its own for its ec2:InstanceType condition, a key the volume and
# network interface do not have.
SKIP = {("RESOURCE_MISMATCH", sid) for sid in (
    "PackerLaunchTaggedInstance", "PackerLaunchTagged", "PackerLaunchUses", "PackerCreateGroupInVpc",
    "PackerCreateImageTagged", "PackerCreateImageFromOwnInstance")}

class Loader(yaml.SafeLoader):
    pass
Loader.add_multi_constructor("!", lambda l, tag, node: {"!" + tag: (
    l.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else
    l.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode) else
    l.construct_mapping(node, deep=True))})

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::StackName": "vibes-main", "Project": "vibes"}
# The ARN of each kind of resource a policy may name with !GetAtt X.Arn or ${X.Arn}.
ARNS = {"AWS::S3::Bucket": "arn:aws:s3:::{n}", "AWS::IAM::Role": "arn:aws:iam::123456789012:role/{n}",
        "AWS::SNS::Topic": "arn:aws:sns:us-east-1:123456789012:{n}",
        "AWS::SQS::Queue": "arn:aws:sqs:us-east-1:123456789012:{n}"}

def resolve(x, res):
    def ref(n):
        return PSEUDO.get(n, n.lower())
    def att(n):
        name, attr = n.split(".", 1)
        kind = res[name]["Type"]
        if attr != "Arn" or kind not in ARNS:
            sys.exit(f"lint-assets: no placeholder for {kind} {name}.{attr}: add one to ARNS")
        return ARNS[kind].format(n=name.lower())
    if isinstance(x, dict) and len(x) == 1:
        (k, v), = x.items()
        if k in ("!Ref", "Ref"):
            return ref(v)
        if k in ("!GetAtt", "Fn::GetAtt"):
            return att(v if isinstance(v, str) else ".".join(v))
        if k in ("!Sub", "Fn::Sub"):
            text, names = (v, {}) if isinstance(v, str) else (v[0], resolve(v[1], res))
            return re.sub(r"\$\{([^}!]+)\}", lambda m: names.get(m.group(1)) or
                          (att(m.group(1)) if "." in m.group(1) else ref(m.group(1))), text)
        if k in ("!Join", "Fn::Join"):
            return v[0].join(resolve(v[1], res))
        if k in ("!If", "Fn::If"):
            # Both branches name the same kind of resource (the sources bucket the stack makes,
            # or the one it is handed): the first is linted.
            return resolve(v[1], res)
        if k.startswith("!") or k.startswith("Fn::"):
            sys.exit(f"lint-assets: {k} in a policy document: teach the IAM lint to resolve it")
    if isinstance(x, dict):
        return {k: resolve(v, res) for k, v in x.items()}
    if isinstance(x, list):
        return [resolve(v, res) for v in x]
    return x

# As `parliament --include-community-auditors` sets itself up.
override_config(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml")
IDENTITY = {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy"}
policies, sids, found, skipped = 0, set(), [], []
for t in sys.argv[1:]:
    res = yaml.load(open(t), Loader=Loader).get("Resources", {})
    for name, r in res.items():
        if r["Type"] not in IDENTITY:
            continue
        props = r.get("Properties", {})
        docs = [(p["PolicyName"], p["PolicyDocument"]) for p in props.get("Policies", [])]
        if "PolicyDocument" in props:
            docs.append(("policy", props["PolicyDocument"]))
        for pname, doc in docs:
            doc = resolve(doc, res)
            stmts = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
            # One statement a line: a finding's line says which statement it is about.
            text = '{"Version": "%s", "Statement": [\n%s\n]}\n' % (
                doc.get("Version", "2012-10-17"), ",\n".join(json.dumps(s) for s in stmts))
            where = f"{t} {name}/{pname}"
            policies += 1
            for f in analyze_policy_string(text, where, include_community_auditors=True).findings:
                f = enhance_finding(f)
                if is_finding_filtered(f, "INFO"):
                    continue
                line = f.location.get("line")
                sid = stmts[line - 2].get("Sid") if isinstance(line, int) and 2 <= line < len(stmts) + 2 else None
                sids.add(sid)
                entry = f"{where} {sid or '(policy)'}: {f.issue} ({f.severity}) {f.title}: {f.detail}"
                (skipped if (f.issue, sid) in SKIP else found).append(entry)
            sids.update(s.get("Sid") for s in stmts)
for e in skipped:
    print(f"skip {e}")
for e in found:
    print(e)
if policies == 0:
    sys.exit("lint-assets: no IAM policy found in " + " ".join(sys.argv[1:]))
if {sid for _, sid in SKIP} - sids:
    sys.exit(f"lint-assets: skips for statements no template has any more: {sorted({s for _, s in SKIP} - sids)}")
print(f"{policies} policies, {len(found)} findings, {len(skipped)} skipped")
sys.exit(1 if found else 0)
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
