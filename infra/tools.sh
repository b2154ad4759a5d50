# Shared set-up for the infrastructure scripts (scripts/lint-infra.sh, build-lambdas.sh,
# check-deploy.sh). Source it from the repository root; it defines functions only.
#
#   tool_venv lint   -> .venv/lint   with infra/requirements-lint.txt   (cfn-lint, SAM translator, checkov)
#   tool_venv deploy -> .venv/deploy with infra/requirements-deploy.txt (aws-sam-cli, cargo-lambda, ziglang)
#
# Two environments beside the tests' .venv (moto) because the pins cannot share one: checkov 3.3.30
# pins boto3==1.35.49 while aws-sam-cli 1.170.0 needs boto3>=1.43 (and moto's .venv has its own).
# pip runs only when a pin is unsatisfied, so a second run is offline and instant.

# tool_venv NAME: creates .venv/NAME if missing, installs infra/requirements-NAME.txt when a pin is
# not met, and prints the environment's directory.
tool_venv() {
  local name=$1
  local venv=.venv/$name requirements=infra/requirements-$name.txt
  if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv" >&2 || {
      echo "error: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
      return 1
    }
  fi
  if ! "$venv/bin/python" - "$requirements" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, pinned = line.split("==")
    try:
        if version(name) != pinned:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
  then
    echo "installing $requirements into $venv (pip)" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2 || return 1
  fi
  echo "$venv"
}

# use_deploy_tools: puts .venv/deploy/bin (sam, cargo-lambda) first on PATH and points
# cargo-zigbuild at the zig of PyPI's ziglang wheel, so nothing is downloaded from anywhere else.
use_deploy_tools() {
  local venv
  venv=$(tool_venv deploy) || return 1
  venv=$(cd "$venv" && pwd)
  export PATH="$venv/bin:$PATH"
  CARGO_ZIGBUILD_ZIG_PATH=$("$venv/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
  export CARGO_ZIGBUILD_ZIG_PATH
  export SAM_CLI_TELEMETRY=0
}

# need_readelf: readelf (binutils) reads any ELF whatever the host architecture; installed with apt
# when missing, as scripts/system-deps.sh does for the other system packages.
need_readelf() {
  command -v readelf >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    echo "==> apt-get install binutils (readelf)" >&2
    $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq binutils >/dev/null
  fi
  command -v readelf >/dev/null 2>&1 || {
    echo "error: readelf not found: install binutils (or llvm's readelf as readelf)" >&2
    return 1
  }
}

# template_architecture: the Architecture parameter's default in infra/template.yaml.
template_architecture() {
  sed -n '/^  Architecture:/,/^  [A-Za-z]/s/^    Default: *//p' infra/template.yaml | head -1
}
