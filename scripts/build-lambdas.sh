#!/usr/bin/env bash
# Builds the Lambda bootstrap zips for provided.al2023 (x86_64) with cargo lambda, then checks
# that no binary needs a glibc newer than Amazon Linux 2023's (2.34).
#
#   scripts/build-lambdas.sh [PACKAGE...]   default: trailguard-lambda (both functions)
#
# Output: target/lambda/<binary>/bootstrap.zip (the paths infra/template.yaml's CodeUri expects).
# zig (cargo lambda's cross linker, via cargo-zigbuild) comes from PyPI's `ziglang` wheel, installed
# into the repo's .venv; cargo-lambda is installed with `cargo install --locked` when missing
# (~20 minutes on 2 cores; CI never runs this script - the release workflow installs a prebuilt one).
set -euo pipefail
cd "$(dirname "$0")/.."

ZIGLANG_VERSION=0.14.1
CARGO_LAMBDA_VERSION=1.9.2
MAX_GLIBC=2.34
LAMBDA_DIR=target/lambda

venv=.venv
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
have_zig=$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("ziglang"))' 2>/dev/null || true)
if [[ $have_zig != "$ZIGLANG_VERSION" ]]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
fi
# cargo-zigbuild takes zig from CARGO_ZIGBUILD_ZIG_PATH before PATH or `python -m ziglang`.
zig_dir=$("$venv/bin/python" -c 'import os, ziglang; print(os.path.dirname(ziglang.__file__))')
export CARGO_ZIGBUILD_ZIG_PATH=$zig_dir/zig
export PATH=$zig_dir:$PATH
echo "zig $("$CARGO_ZIGBUILD_ZIG_PATH" version) from PyPI ziglang ($zig_dir)"

if ! cargo lambda --version 2>/dev/null | grep -q " $CARGO_LAMBDA_VERSION"; then
  echo "installing cargo-lambda $CARGO_LAMBDA_VERSION (cargo install --locked; slow)"
  cargo install cargo-lambda --version "$CARGO_LAMBDA_VERSION" --locked
fi
echo "$(cargo lambda --version)"

# One package holds every function (one binary each).
if (($# > 0)); then packages=("$@"); else packages=(trailguard-lambda); fi

package_args=()
for package in "${packages[@]}"; do package_args+=(--package "$package"); done
# --lambda-dir keeps the zips where the template looks, whatever CARGO_TARGET_DIR says.
cargo lambda build --release --output-format zip --lambda-dir "$LAMBDA_DIR" "${package_args[@]}"

# Every bootstrap: the newest GLIBC_x.y symbol version it needs must be <= MAX_GLIBC.
status=0
check_dir=$(mktemp -d)
trap 'rm -rf "$check_dir"' EXIT
shopt -s nullglob
zips=("$LAMBDA_DIR"/*/bootstrap.zip)
if ((${#zips[@]} == 0)); then
  echo "error: cargo lambda wrote no $LAMBDA_DIR/*/bootstrap.zip" >&2
  exit 1
fi
for zip in "${zips[@]}"; do
  name=$(basename "$(dirname "$zip")")
  unzip -o -q "$zip" bootstrap -d "$check_dir/$name"
  newest=$(objdump -T "$check_dir/$name/bootstrap" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)
  newest=${newest:-none}
  if [[ $newest != none && $(printf '%s\n%s\n' "$newest" "$MAX_GLIBC" | sort -V | tail -1) != "$MAX_GLIBC" ]]; then
    echo "FAIL $zip needs GLIBC_$newest (> $MAX_GLIBC, Amazon Linux 2023)" >&2
    status=1
  else
    echo "ok   $zip ($(du -k "$zip" | cut -f1) KiB), newest GLIBC symbol: $newest (<= $MAX_GLIBC)"
  fi
done
exit $status
