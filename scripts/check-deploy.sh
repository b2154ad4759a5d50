#!/usr/bin/env bash
# The deployment check anyone can run without an AWS account (CI runs it too): everything about
# deploying TrailGuard that can be verified offline.
#
#   scripts/check-deploy.sh [--release] [--arm64] [--no-build]
#
#   1. template     sam validate --lint (SAM CLI, the transform and cfn-lint)
#   2. lint         scripts/lint-infra.sh: cfn-lint and checkov clean, DefinitionSubstitutions cover
#                   every ${Name}, checkov on the GitHub workflows
#   3. variants     cfn-lint and checkov again with the non-default parameters (quarantine, models
#                   without a profile, Marketplace first use, own trail and operations address,
#                   arm64, OpenSearch Serverless vector store, RetrieveAndGenerate chat), so
#                   conditional resources are checked too
#   4. build setup  each function's BuildMethod, CodeUri, Binary, Handler and Runtime against the
#                   cargo metadata; samconfig.toml builds infra/template.yaml with the template's
#                   default Architecture
#   5. sam build    the real `sam build` from the repository root with samconfig.toml (debug build;
#                   --release for the release profile users deploy), then each built bootstrap's ELF
#                   machine against the template's Architecture and its newest GLIBC_ symbol <= 2.34
#                   (provided.al2023), and `cargo lambda deploy --dry` for each binary (the update
#                   path finds and packages it); with --arm64 also the arm64 build
#   6. workflows    every statemachine/*.asl.json loads with the project's loader (trailguard sfn
#                   check) and waits in Retry/Catch only for error names its integrations can emit
#                   (the documented table in infra/workflow-errors.json, infra/check_workflow.py)
#
# --no-build skips step 5 (no Rust build for the Lambda target).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=../infra/tools.sh
source infra/tools.sh

release=false
arm64=false
build=true
while (($#)); do
  case $1 in
    --release) release=true ;;
    --arm64) arm64=true ;;
    --no-build) build=false ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

MAX_GLIBC=2.34
target_dir=${CARGO_TARGET_DIR:-$root/target}
work=$target_dir/check-deploy
mkdir -p "$work"
declare -a summary=()
started_all=$SECONDS
step_started=0
step() {
  step_started=$SECONDS
  printf '\n==> %s\n' "$*"
}
done_step() { summary+=("$(printf '%-12s %4ss  %s' "$1" "$((SECONDS - step_started))" "$2")"); }

variant_dir=""
finish() {
  local status=$?
  [[ -n $variant_dir ]] && rm -rf "$variant_dir"
  if ((status == 0)); then
    printf '\n==> deployment check passed in %ss\n' "$((SECONDS - started_all))"
  else
    printf '\n==> deployment check FAILED (exit %s) after %ss; steps that passed:\n' "$status" "$((SECONDS - started_all))"
  fi
  ((${#summary[@]})) && printf '  %s\n' "${summary[@]}"
  return "$status"
}
trap finish EXIT

use_deploy_tools
lint_venv=$(tool_venv lint)

# ---------------------------------------------------------------- 1
step "1 template: sam validate --lint ($(sam --version))"
sam validate --lint --template infra/template.yaml --region us-east-1
done_step template "sam validate --lint"

# ---------------------------------------------------------------- 2
step "2 lint: scripts/lint-infra.sh"
bash scripts/lint-infra.sh
done_step lint "cfn-lint, checkov (template, workflows), substitutions"

# ---------------------------------------------------------------- 3
step "3 variants: the template with non-default parameters"
variant_dir=$(mktemp -d)
"$lint_venv/bin/python" - infra/template.yaml "$variant_dir/template.yaml" <<'PY'
import re, sys
source, target = sys.argv[1:]
text = open(source).read()
overrides = {
    "PiiAction": "quarantine",
    "LogModelProfilePrefix": "none",
    "ImageModelProfilePrefix": "eu",
    "ImageModelId": "anthropic.claude-sonnet-4-6",
    "MarketplaceSubscribeProductIds": "prod-xdkflymybwmvi",
    "OperationsEmail": "ops@example.com",
    "TrailName": "trailguard-check.trail_1",
    "Architecture": "arm64",
    "LogLevel": "DEBUG",
    "ReservedConcurrency": "5",
    # The other vector store and chat mode, so their conditional resources are linted too.
    "KnowledgeBaseVectorStore": "opensearch-serverless",
    "KnowledgeBaseCollectionStandbyReplicas": "ENABLED",
    "KnowledgeBaseIndexCreatorArn": "arn:aws:iam::123456789012:role/trailguard-deployer",
    "ChatMode": "retrieve-and-generate",
}
for name, value in overrides.items():
    pattern = re.compile(r"(^  %s:\n(?:    .*\n)*?    Default: )(.*)$" % re.escape(name), re.M)
    text, n = pattern.subn(lambda m: m.group(1) + repr(value).replace("'", '"'), text, count=1)
    if n != 1:
        sys.exit(f"variant: no Default for parameter {name}")
# Relative paths keep pointing at the repository.
text = text.replace("../statemachine/", "%s/statemachine/" % __import__("os").getcwd())
text = text.replace("../crates/", "%s/crates/" % __import__("os").getcwd())
open(target, "w").write(text)
print("parameters: " + ", ".join(f"{k}={v}" for k, v in overrides.items()))
PY
"$lint_venv/bin/cfn-lint" "$variant_dir/template.yaml"
"$lint_venv/bin/checkov" --quiet --compact --skip-download --framework cloudformation -f "$variant_dir/template.yaml"
done_step variants "cfn-lint, checkov with quarantine, no profile, Marketplace, arm64, OpenSearch Serverless, ..."

# ---------------------------------------------------------------- 4
step "4 build setup: template functions against the cargo metadata and samconfig.toml"
cargo metadata --no-deps --format-version 1 >"$work/metadata.json"
"$lint_venv/bin/python" - infra/template.yaml "$work/metadata.json" samconfig.toml <<'PY'
import json, os, sys, tomllib
from cfnlint.decode import decode
template_path, metadata_path, samconfig_path = sys.argv[1:]
template, errors = decode(template_path)
if errors:
    sys.exit(f"cannot parse {template_path}: {errors}")
metadata = json.load(open(metadata_path))
bins = {}
for package in metadata["packages"]:
    crate_dir = os.path.realpath(os.path.dirname(package["manifest_path"]))
    for target in package["targets"]:
        if "bin" in target["kind"]:
            bins.setdefault(crate_dir, set()).add(target["name"])
failed = False
def fail(message):
    global failed
    failed = True
    print("FAIL " + message)
default_arch = template["Parameters"]["Architecture"]["Default"]
functions = {k: v for k, v in template["Resources"].items() if v.get("Type") == "AWS::Serverless::Function"}
for name, resource in functions.items():
    props, meta = resource.get("Properties", {}), resource.get("Metadata", {})
    code = os.path.realpath(os.path.join(os.path.dirname(template_path), props.get("CodeUri", "")))
    binary = meta.get("BuildProperties", {}).get("Binary")
    problems = []
    if meta.get("BuildMethod") != "rust-cargolambda":
        problems.append(f"BuildMethod {meta.get('BuildMethod')!r}, expected rust-cargolambda")
    if not os.path.isfile(os.path.join(code, "Cargo.toml")):
        problems.append(f"CodeUri {props.get('CodeUri')!r} holds no Cargo.toml")
    elif binary not in bins.get(code, set()):
        problems.append(f"Binary {binary!r} is not a bin target of {code} ({sorted(bins.get(code, []))})")
    if props.get("Handler") != "bootstrap":
        problems.append(f"Handler {props.get('Handler')!r}, expected bootstrap")
    if props.get("Runtime") != "provided.al2023":
        problems.append(f"Runtime {props.get('Runtime')!r}, expected provided.al2023 (the glibc check assumes 2.34)")
    if props.get("Architectures") != [{"Ref": "Architecture"}]:
        problems.append(f"Architectures {props.get('Architectures')!r}, expected [!Ref Architecture]")
    if problems:
        for p in problems:
            fail(f"{name}: {p}")
    else:
        print(f"ok   {name}: {os.path.relpath(code)} bin {binary}, bootstrap on provided.al2023, Architecture parameter")
config = tomllib.load(open(samconfig_path, "rb"))
build = config.get("default", {}).get("build", {}).get("parameters", {})
deploy = config.get("default", {}).get("deploy", {}).get("parameters", {})
if build.get("template_file") != template_path:
    fail(f"{samconfig_path}: [default.build.parameters] template_file is {build.get('template_file')!r}, expected {template_path}")
if build.get("cached", False):
    fail(f"{samconfig_path}: cached = true would reuse binaries built from older workspace crates")
for section, params in (("build", build), ("deploy", deploy)):
    overrides = params.get("parameter_overrides", "")
    overrides = " ".join(overrides) if isinstance(overrides, list) else overrides
    arch = dict(kv.split("=", 1) for kv in overrides.split() if "=" in kv).get("Architecture", default_arch)
    if arch != default_arch:
        fail(f"{samconfig_path}: [{section}] Architecture={arch}, the template's default is {default_arch}")
if not failed:
    print(f"ok   {samconfig_path}: builds {template_path}, Architecture {default_arch} for build and deploy")
sys.exit(1 if failed else 0)
PY
done_step "build setup" "CodeUri/Binary vs cargo metadata, samconfig.toml"

# ---------------------------------------------------------------- 5
check_sam_build() { # ARCH
  local arch=$1 build_dir=$work/sam-build-$1 mode=debug
  $release && mode=release
  rm -rf "$build_dir"
  echo "sam build ($mode, Architecture=$arch) -> $build_dir"
  local env=(SAM_BUILD_MODE=debug)
  $release && env=()
  env "${env[@]}" sam build --build-dir "$build_dir" --parameter-overrides "Architecture=$arch"
  local files=() expected
  expected=$(grep -c "BuildMethod: rust-cargolambda" infra/template.yaml)
  for f in "$build_dir"/*/bootstrap; do files+=("$f"); done
  if ((${#files[@]} != expected)); then
    echo "FAIL sam build wrote ${#files[@]} bootstraps under $build_dir, expected $expected (one per function)" >&2
    return 1
  fi
  python3 infra/elf_check.py --arch "$arch" --max-glibc "$MAX_GLIBC" "${files[@]}"
  # The other deploy path: cargo lambda deploy finds each binary in the layout cargo lambda build
  # left (sam build ran it) and packages it; --dry stops before any AWS call.
  local binary binaries
  # Every [[bin]] of the Lambda crate, so a new function cannot skip this check.
  binaries=$(sed -n '/^\[\[bin\]\]/,/^name/s/^name = "\(.*\)"/\1/p' crates/trailguard-lambda/Cargo.toml)
  for binary in $binaries; do
    AWS_REGION=${AWS_REGION:-us-east-1} cargo lambda deploy --dry --lambda-dir "$target_dir/lambda" \
      --binary-name "$binary" "check-$binary" >"$work/deploy-dry-$binary.txt" 2>&1 || {
      cat "$work/deploy-dry-$binary.txt" >&2
      echo "FAIL cargo lambda deploy --dry --binary-name $binary" >&2
      return 1
    }
    grep -q -- "- bootstrap" "$work/deploy-dry-$binary.txt" || {
      echo "FAIL cargo lambda deploy --dry --binary-name $binary packaged no bootstrap" >&2
      return 1
    }
    echo "ok   cargo lambda deploy --dry --binary-name $binary: packages $target_dir/lambda/$binary/bootstrap"
  done
}
if $build; then
  step "5 sam build from the repository root, then the bootstraps' architecture and glibc"
  check_sam_build "$(template_architecture)"
  if $arm64; then check_sam_build arm64; fi
  done_step "sam build" "$($release && echo release || echo debug) build; ELF machine and GLIBC <= $MAX_GLIBC$($arm64 && echo ', x86_64 and arm64')"
else
  summary+=("$(printf '%-12s %4s   %s' "sam build" "-" "skipped (--no-build)")")
fi

# ---------------------------------------------------------------- 6
step "6 workflows: trailguard sfn check, then the Retry/Catch names against infra/workflow-errors.json"
definitions=(statemachine/*.asl.json)
set +e
cargo run -q -p trailguard-cli -- sfn check --json "${definitions[@]}" >"$work/sfn-check.jsonl"
cli_status=$?
set -e
cat "$work/sfn-check.jsonl"
if [[ ! -s $work/sfn-check.jsonl ]]; then
  echo "FAIL trailguard sfn check produced no report (exit $cli_status)" >&2
  exit 1
fi
if ((cli_status != 0)); then
  echo "note: trailguard sfn check exits $cli_status (its own table; the documented table decides below)"
fi
python3 infra/check_workflow.py --cli-json "$work/sfn-check.jsonl" "${definitions[@]}"
done_step workflows "loader + documented error-name table"

