#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages TrailGuard needs, only those missing.
#   bash scripts/system-deps.sh          # what `trailguard` needs to build and run (OCR, face cascades, cmake)
#   bash scripts/system-deps.sh --test   # plus what the tests need (fonts and Pillow for the image generator, venv)
set -euo pipefail

# libtesseract/leptonica + clang: the offline PII detector's OCR binding; opencv-data: face cascades;
# cmake: builds llama.cpp for the in-process model (trailguard-gguf), which `trailguard` links.
packages=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor libtesseract-dev libleptonica-dev clang
  libclang-dev pkg-config opencv-data cmake)
if [[ ${1:-} == --test ]]; then
  packages+=(fonts-nanum fonts-dejavu-core fonts-liberation2 python3-pil python3-venv)
fi

if ! command -v dpkg >/dev/null 2>&1; then
  echo "note: not a Debian-like system; install Tesseract (with eng+kor data and headers), Leptonica," \
    "clang/libclang, pkg-config, OpenCV's Haar cascade data and cmake yourself" >&2
  exit 0
fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
((${#missing[@]})) || exit 0
printf '\n==> apt-get install %s\n' "${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
