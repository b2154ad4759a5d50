#!/usr/bin/env bash
# Builds the Lambda bootstraps for provided.al2023 with cargo lambda, for one architecture, then
# checks each binary's CPU architecture and that it needs no glibc newer than Amazon Linux 2023's
# (2.34).
#
#   scripts/build-lambdas.sh [--x86-64 | --arm64] [--zip] [--debug] [--lambda-dir DIR] [PACKAGE...]
#
#   --x86-64 / --arm64  the target; default: the template's Architecture default (x86_64). Use the
#                       architecture of the stack you deploy to (stack output FunctionArchitecture).
#   --zip               also write DIR/<binary>/bootstrap.zip (the release assets).
#   --debug             a debug build (faster; scripts/check-deploy.sh uses it to check the target).
#   --lambda-dir DIR    where the layout goes; default target/lambda.
#   --pii-models        build with the `offline` feature (the PII function's PP-OCRv4 + BlazeFace
#                       detector on ONNX Runtime, no Tesseract) and copy its ONNX models and
#                       libonnxruntime.so from the model cache (`trailguard model fetch pp-ocr-v4
#                       blazeface onnxruntime`) into DIR/trailguard-pii/models/ (and its zip), where
#                       the detector looks beside its bootstrap; PII_MODEL_DIR overrides (e.g.
#                       /opt/models from a layer). Deploy with PiiDetector=offline.
#   --bin NAME          only this binary (e.g. trailguard-pii); repeatable.
#   PACKAGE             default: trailguard-lambda (all four functions).
#
# Output: DIR/<binary>/bootstrap, the layout `cargo lambda deploy --binary-name <binary>` reads:
#   trailguard-log-analysis/bootstrap, trailguard-pii/bootstrap, trailguard-kb-sync/bootstrap,
#   trailguard-chat/bootstrap.
# Tools: cargo-lambda and zig (its cross linker, through cargo-zigbuild) from PyPI's cargo-lambda
# and ziglang wheels in .venv/deploy (infra/requirements-deploy.txt), no download from anywhere else;
# the Rust target through rustup when missing; the checks in Python (infra/elf_check.py), so no
# objdump or unzip is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../infra/tools.sh
source infra/tools.sh

MAX_GLIBC=2.34
arch=$(template_architecture)
profile=--release
zip=false
pii_models=false
lambda_dir=target/lambda
packages=()
only_bins=()
while (($#)); do
  case $1 in
    --x86-64 | --x86_64) arch=x86_64 ;;
    --arm64) arch=arm64 ;;
    --zip) zip=true ;;
    --debug) profile="" ;;
    --lambda-dir) lambda_dir=$2; shift ;;
    --pii-models) pii_models=true ;;
    --bin) only_bins+=("$2"); shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) packages+=("$1") ;;
  esac
  shift
done
((${#packages[@]})) || packages=(trailguard-lambda)
case $arch in
  x86_64) arch_flag=--x86-64 triple=x86_64-unknown-linux-gnu ;;
  arm64) arch_flag=--arm64 triple=aarch64-unknown-linux-gnu ;;
  *) echo "error: architecture '$arch' (expected x86_64 or arm64)" >&2; exit 2 ;;
esac

use_deploy_tools
echo "zig $("$CARGO_ZIGBUILD_ZIG_PATH" version) (PyPI ziglang), $(cargo lambda --version)"
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$triple"; then
  echo "==> rustup target add $triple"
  rustup target add "$triple"
fi

package_args=()
for package in "${packages[@]}"; do package_args+=(--package "$package"); done
# The bin targets of the packages: the bootstraps to expect and check.
mapfile -t binaries < <(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
wanted = set(sys.argv[1:])
for p in json.load(sys.stdin)["packages"]:
    if p["name"] in wanted:
        for t in p["targets"]:
            if "bin" in t["kind"]:
                print(t["name"])
' "${packages[@]}")
if ((${#only_bins[@]})); then
  for bin in "${only_bins[@]}"; do
    [[ " ${binaries[*]} " == *" $bin "* ]] || { echo "error: no binary $bin in ${packages[*]}" >&2; exit 2; }
    package_args+=(--bin "$bin")
  done
  binaries=("${only_bins[@]}")
fi
# The PII function's offline detector (ONNX engines, no libtesseract) rides in the zip.
$pii_models && package_args+=(--features trailguard-lambda/offline)
if ((${#binaries[@]} == 0)); then
  echo "error: no binary targets in ${packages[*]}" >&2
  exit 1
fi

echo "==> cargo lambda build ${profile:---debug} $arch_flag --lambda-dir $lambda_dir ${package_args[*]}"
started=$SECONDS
# --lambda-dir keeps the layout where the docs and cargo lambda deploy look, whatever CARGO_TARGET_DIR says.
cargo lambda build $profile "$arch_flag" --lambda-dir "$lambda_dir" "${package_args[@]}"
echo "built in $((SECONDS - started)) s"

files=()
for binary in "${binaries[@]}"; do
  bootstrap=$lambda_dir/$binary/bootstrap
  if [[ ! -f $bootstrap ]]; then
    echo "error: cargo lambda wrote no $bootstrap" >&2
    exit 1
  fi
  files+=("$bootstrap")
  if $zip; then
    # A zip holding one executable file named bootstrap, as Lambda's provided runtimes expect.
    python3 - "$bootstrap" "$bootstrap.zip" <<'PY'
import sys, zipfile
source, target = sys.argv[1:]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(source, "rb") as f, zipfile.ZipFile(target, "w") as z:
    z.writestr(info, f.read())
PY
    files+=("$bootstrap.zip")
  fi
done
# PII models (issue 12; owned by the PII work): models/ beside the PII bootstrap and in its zip.
if $pii_models && [[ -f $lambda_dir/trailguard-pii/bootstrap ]]; then
  cache=${TRAILGUARD_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/trailguard}}
  cache=${cache:-$HOME/.cache/trailguard}/models
  models=$lambda_dir/trailguard-pii/models
  rm -rf "$models"
  mkdir -p "$models"
  for package in pp-ocr-v4 blazeface onnxruntime; do
    if [[ ! -d $cache/$package ]]; then
      echo "error: $cache/$package missing: run \`trailguard model fetch pp-ocr-v4 blazeface onnxruntime\`" >&2
      exit 1
    fi
    cp -r "$cache/$package" "$models/"
  done
  # The runtime must match the function's architecture and glibc like the bootstrap. It is C++:
  # it needs libstdc++.so.6 (GLIBCXX_3.4.22 at most), which the provided.al2023 image is expected
  # to carry (its package manager links it) but which this check cannot see from here.
  echo "     note: libonnxruntime.so needs libstdc++.so.6; if the function logs that it cannot open it, add libstdc++ (GLIBCXX >= 3.4.22, GLIBC <= 2.34) in a layer's lib/"
  python3 infra/elf_check.py --arch "$arch" --max-glibc "$MAX_GLIBC" --allow-lib libstdc++.so.6 "$models/onnxruntime/libonnxruntime.so"
  if $zip; then
    python3 - "$lambda_dir/trailguard-pii/bootstrap.zip" "$lambda_dir/trailguard-pii" <<'PY'
import os, sys, zipfile
target, root = sys.argv[1:]
with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as z:
    for dirpath, _, names in sorted(os.walk(os.path.join(root, "models"))):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            info = zipfile.ZipInfo(os.path.relpath(path, root), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
PY
  fi
  echo "     $models $(du -sk "$models" | cut -f1) KiB"
fi
python3 infra/elf_check.py --arch "$arch" --max-glibc "$MAX_GLIBC" "${files[@]}"
for file in "${files[@]}"; do echo "     $file $(du -k "$file" | cut -f1) KiB"; done
