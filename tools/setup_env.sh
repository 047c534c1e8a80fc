#!/usr/bin/env bash
# Build .venv with the measured okdhp-mm stack (see shared/reference/environment.md).
# Idempotent: a stamp holding the hash of this script and requirements.txt makes a
# re-run with nothing changed return in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3.11}
STAMP="$VENV/.okdhp_stack_stamp"
want=$(cat tools/setup_env.sh requirements.txt setup.cfg 2>/dev/null | sha256sum | cut -c1-16)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && "$VENV/bin/python" -c "import okdhp_mm" 2>/dev/null; then
  echo "[setup] $VENV is up to date ($want)"; exit 0
fi
t0=$(date +%s)
step() { echo "[setup $(( $(date +%s) - t0 ))s] $*"; }
[[ -x "$VENV/bin/python" ]] || { step "creating $VENV with $PY"; "$PY" -m venv "$VENV"; }
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
export PIP_PROGRESS_BAR=off
step "build tools"
$PIP install -q "pip>=24" "setuptools<81" wheel cython
# The local find-links folder holds torch+cpu without a matching torchvision: use the registry build.
step "torch 2.13.0 + torchvision 0.28.0 (registry builds)"
PIP_FIND_LINKS=" " $PIP install -q torch==2.13.0 torchvision==0.28.0
step "mmengine and plain dependencies"
$PIP install -q -r requirements.txt
# openmim pulls openxlab, which pins setuptools 60; torch wants >=77 and mmcv's setup.py
# needs pkg_resources (gone in 81): settle on a version both accept.
$PIP install -q "setuptools>=77,<81" 2>&1 | grep -v "openxlab" || true
step "xtcocotools from source (its wheel breaks under numpy 2)"
$PIP install -q --no-build-isolation --no-binary xtcocotools xtcocotools==1.14.3
if ! "$VENV/bin/python" -c "import mmcv, mmcv._ext" 2>/dev/null; then
  step "mmcv 2.1.0 with compiled ops (about 9 min on 2 cores the first time; pip caches the wheel)"
  # torch's extension builder hides ninja's progress, so report the compiled objects ourselves.
  ( while sleep 30; do
      n=$(find "${TMPDIR:-/tmp}" -path '*mmcv*' -name '*.o' 2>/dev/null | wc -l)
      echo "[setup] mmcv: $n object files compiled (of 77 on a CPU build)"
    done ) &
  watcher=$!
  # CUDA_VISIBLE_DEVICES="" keeps mmcv to CPU ops even where a GPU is visible; models still run on CUDA.
  CUDA_VISIBLE_DEVICES="" MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} \
    $PIP install -q --no-build-isolation mmcv==2.1.0 || { kill $watcher; exit 1; }
  kill $watcher 2>/dev/null || true
  "$VENV/bin/python" -c "import mmcv._ext" || { echo "[setup] mmcv ops failed to build" >&2; exit 1; }
fi
step "mmpose 1.3.2 and mmdet 3.3.0 without their dependency lists (chumpy never builds)"
$PIP install -q --no-deps mmpose==1.3.2 mmdet==3.3.0
step "okdhp_mm (editable, with its deploy extra: onnx, onnxruntime) and test tools"
# The package's own dependency (mmengine) is in place: this adds the deploy extra only.
PIP_FIND_LINKS=" " $PIP install -q --no-build-isolation -e ".[deploy]"
PIP_FIND_LINKS=" " $PIP install -q tensorboard pytest pytest-xdist
"$VENV/bin/python" -c "import okdhp_mm, mmpose.models, mmdet.utils; print('[setup] stack imports OK')"
echo "$want" > "$STAMP"
step "done"
