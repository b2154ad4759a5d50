#!/usr/bin/env bash
# Real photos for the face-detector test, taken from scikit-image's wheel on PyPI (not committed):
#   astronaut.png — Eileen Collins, NASA, public domain (a face);
#   coffee.png, chelsea.png — CC0 (Rachel Michetti; Stefan van der Walt), no human face.
# Licences as stated in skimage/data/_fetchers.py. Output: .cache/face-photos/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.cache/face-photos}
version=0.26.0
[[ -f $out/astronaut.png && -f $out/coffee.png && -f $out/chelsea.png ]] && exit 0
mkdir -p "$out" .cache/wheels
python=python3
[[ -x .venv/bin/python ]] && python=.venv/bin/python
wheel=$(ls .cache/wheels/scikit_image-$version-*.whl 2>/dev/null | head -1 || true)
if [[ -z $wheel ]]; then
  $python -m pip download --quiet --no-deps --only-binary=:all: "scikit-image==$version" -d .cache/wheels
  wheel=$(ls .cache/wheels/scikit_image-$version-*.whl | head -1)
fi
$python - "$wheel" "$out" <<'PY'
import sys, zipfile, pathlib
wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for name in ("astronaut.png", "coffee.png", "chelsea.png"):
        (out / name).write_bytes(z.read(f"skimage/data/{name}"))
PY
echo "face photos in $out"
