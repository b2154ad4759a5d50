#!/usr/bin/env bash
# TrailGuard's test command (README's second command; .ci/run calls it).
# Installs what the tests need, starts the local stand-ins on 127.0.0.1, runs lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export TRAILGUARD_DATA=${TRAILGUARD_DATA:-$root/../shared/data}
if [[ ! -d $TRAILGUARD_DATA ]]; then
  echo "error: shared test data not found at $TRAILGUARD_DATA (set TRAILGUARD_DATA)" >&2
  exit 1
fi
export OMP_THREAD_LIMIT=1   # Tesseract: one thread per OCR call, steady timings

step() { printf '\n==> %s\n' "$*"; }

# System packages for OCR (offline PII detector), face cascades, fonts and Pillow for the image generator.
packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor libtesseract-dev libleptonica-dev clang
  libclang-dev pkg-config opencv-data fonts-nanum fonts-dejavu-core fonts-liberation2 python3-pil python3-venv)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  step "apt-get install ${missing[*]}"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

step "local services (moto for S3/SNS on 127.0.0.1)"
bash scripts/test-services.sh start
trap 'bash scripts/test-services.sh stop >/dev/null 2>&1 || true' EXIT
export CI=${CI:-true}

step "infrastructure lint (cfn-lint, checkov)"
bash scripts/lint-infra.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
cargo test --workspace
