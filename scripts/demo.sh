#!/usr/bin/env bash
# The README's first command: installs the few system packages the offline PII detector links
# (only those missing), then runs the whole job on the embedded demo events and images.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
export OMP_THREAD_LIMIT=${OMP_THREAD_LIMIT:-1}   # Tesseract: one thread per OCR call
exec cargo run --quiet -p trailguard-cli -- demo "$@"
