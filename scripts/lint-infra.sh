#!/usr/bin/env bash
# Lints infra/template.yaml with cfn-lint (no errors, no warnings) and checkov (no failed check;
# every skip is justified in the template's Metadata.checkov.skip), plus the GitHub workflows.
# Uses .venv/lint (created if missing; pip only when a pin in infra/requirements-lint.txt is unmet),
# set up by infra/tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=../infra/tools.sh
source infra/tools.sh
venv=$(tool_venv lint)

echo "==> cfn-lint $("$venv/bin/cfn-lint" --version | awk '{print $2}') infra/template.yaml"
"$venv/bin/cfn-lint" infra/template.yaml
echo "cfn-lint: no errors or warnings"

# Every ${Name} in a state machine definition must be a DefinitionSubstitutions key of its resource
# (CloudFormation would deploy the literal "${Name}" otherwise).
echo "==> DefinitionSubstitutions cover the state machine definitions"
"$venv/bin/python" - infra/template.yaml <<'PY'
import os, re, sys
from cfnlint.decode import decode
template_path = sys.argv[1]
template, errors = decode(template_path)
if errors:
    sys.exit(f"cannot parse {template_path}: {errors}")
failed = False
for name, resource in template.get("Resources", {}).items():
    if resource.get("Type") != "AWS::Serverless::StateMachine":
        continue
    props = resource.get("Properties", {})
    uri = props.get("DefinitionUri")
    if not isinstance(uri, str):
        continue
    path = os.path.normpath(os.path.join(os.path.dirname(template_path), uri))
    if not os.path.isfile(path):
        print(f"FAIL {name}: DefinitionUri {path} does not exist")
        failed = True
        continue
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", open(path).read()))
    defined = set(props.get("DefinitionSubstitutions", {}))
    missing = sorted(used - defined)
    if missing:
        print(f"FAIL {name}: {path} uses {missing}, not in DefinitionSubstitutions")
        failed = True
    else:
        print(f"ok   {name}: {path} uses {sorted(used)}")
sys.exit(1 if failed else 0)
PY

# --skip-download: no call to the Prisma Cloud API (the network is not needed for the checks).
echo "==> checkov $("$venv/bin/checkov" --version) (cloudformation, github_actions)"
"$venv/bin/checkov" --quiet --compact --skip-download \
  --framework cloudformation -f infra/template.yaml
"$venv/bin/checkov" --quiet --compact --skip-download \
  --framework github_actions -d .github/workflows
