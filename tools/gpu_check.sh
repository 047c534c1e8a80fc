#!/usr/bin/env bash
# The prepared GPU check: install the stack if needed, then every step that must work on CUDA,
# one summary (OUT/gpu_check.json, OUT/gpu_check.md). tools/gpu_check.py says what each step
# does; docs/benchmarks.md ("GPU figures") how to read the result.
#
#   tools/gpu_check.sh [--cpu] [--tiny] [--work DIR] OUT
#       --cpu   the dry run: the same steps with CUDA replaced by the CPU
#       --tiny  the smallest sizes (the test suite's dry run, about a minute on 2 cores)
#       --work  scratch folder (default work_dirs/gpu_check; emptied first)
#   tools/gpu_check.sh --prepare-wheels [DIR]
#       here, where the package registry is reachable: put into DIR (default .whl, git-ignored)
#       what an offline GPU machine needs beside its own torch (see "Install" below).
#
# Exit status 0 when every step is ok, 1 when one failed (it is recorded and the rest still
# run), 2 on a usage error. Steps: about 5 minutes on one GPU (each step has a time limit).
#
# Install (timed, route and seconds in the summary; log in OUT/install.log):
# - .venv already built and up to date: nothing to do (tools/setup_env.sh answers in ~5 s).
# - A machine with the registry: tools/setup_env.sh with MAX_JOBS=$(nproc). Nothing is
#   cached on a fresh GPU machine: torch 2.13.0 + torchvision from the registry (~1 min), mmcv
#   2.1.0 compiled with CPU ops only (CUDA_VISIBLE_DEVICES="": our code needs mmcv._ext to
#   import, not its CUDA kernels; the models run on CUDA through torch), about 9 min with 2
#   jobs, an estimated 2-3 min with 16. pip caches the mmcv wheel in ~/.cache/pip, so a later
#   .venv on the same machine takes 2-3 min. setup_env.sh wants python3.11 (PYTHON=...).
# - An offline GPU machine (this workplace's: Python 3.12 with a CUDA torch and torchvision
#   preinstalled, no registry): when DIR holds mmcv-2.1.0.tar.gz (GPU_CHECK_WHEELS, default
#   .whl; carry it) and .venv is not a setup_env.sh build, .venv is made over
#   GPU_CHECK_PYTHON (default python3; a .pth puts its site-packages, torch included, after
#   .venv's own) and filled from DIR alone: the wheels, then xtcocotools and mmcv built from
#   their sources (mmcv with CPU ops, MAX_JOBS=$(nproc)), then this package (editable).
#   Estimated 2-3 min on 16 cores (not yet measured); nothing cached (a warm machine keeps
#   .venv: a second run skips the install).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
WHEELS=${GPU_CHECK_WHEELS:-.whl}
usage() { sed -n '5,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

prepare_wheels() {  # here, with the registry: what the offline install needs, for Python 3.12
  local dir=$1 py=${GPU_PYTHON_VERSION:-3.12} pip="$VENV/bin/python -m pip"
  [[ -x $VENV/bin/python ]] || pip="python3 -m pip"
  mkdir -p "$dir"
  local plat=() n
  for n in 2_28 2_27 2_17 2_5; do plat+=(--platform "manylinux_${n}_x86_64"); done
  # Versions as in the measured stack (.venv); the GPU machine has numpy, scipy, matplotlib,
  # opencv-python-headless, six, tqdm, rich, pyyaml, pillow, pytest, tensorboard, onnx.
  $pip download -q --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
    "${plat[@]}" --platform manylinux2014_x86_64 -d "$dir" \
    mmengine==0.10.7 mmpose==1.3.2 mmdet==3.3.0 addict==2.4.0 yapf==0.43.0 \
    platformdirs==4.14.9 termcolor==3.3.0 json_tricks==3.17.3 munkres==3.0.0 \
    terminaltables==3.1.10 pycocotools==2.0.11 shapely==2.2.0 setuptools==80.10.2 \
    2> >(grep -v 'neither a file nor a directory' >&2) || return 1
  # Sources (built there); --no-build-isolation: mmcv's setup.py imports torch for metadata.
  $pip download -q --no-deps --no-binary=:all: --no-build-isolation -d "$dir" \
    mmcv==2.1.0 xtcocotools==1.14.3 2> >(grep -v 'neither a file nor a directory' >&2) ||
    return 1
  ls -l "$dir"; du -sh "$dir"
  echo "[gpu-check] carry $dir to the GPU machine (it is git-ignored there too)"
}

offline_install() {  # .venv over the machine's own Python (its torch), no registry
  local sys_py=${GPU_CHECK_PYTHON:-python3} jobs=${MAX_JOBS:-$(nproc)} site_dirs own d
  local pip="$VENV/bin/python -m pip --disable-pip-version-check -q"
  "$sys_py" -c "import torch, torchvision, numpy, cv2, scipy, matplotlib, pip" || {
    echo "[gpu-check] $sys_py lacks torch/torchvision/numpy/opencv/scipy/matplotlib/pip: the" \
         "offline install uses them from the machine's Python" >&2; return 1; }
  site_dirs=$("$sys_py" -c "import site; print('\n'.join(site.getsitepackages()))") || return 1
  # The machine's python3 is itself a venv: --system-site-packages would see the base
  # interpreter's packages, not its torch. A .pth adds its site folders after .venv's own.
  [[ -x $VENV/bin/python ]] || "$sys_py" -m venv --without-pip "$VENV" || return 1
  own=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  for d in $site_dirs; do echo "import site; site.addsitedir('$d')"; done \
    > "$own/zz_okdhp_gpu_check_machine_site.pth"
  "$VENV/bin/python" -c "import torch, pip" || return 1
  echo "[gpu-check] wheels from $WHEELS"
  $pip install --no-index --no-deps "$WHEELS"/*.whl || return 1
  echo "[gpu-check] xtcocotools from source"
  $pip install --no-index --no-deps --no-build-isolation "$WHEELS"/xtcocotools-*.tar.gz ||
    return 1
  if ! "$VENV/bin/python" -c "import mmcv._ext" 2>/dev/null; then
    echo "[gpu-check] mmcv 2.1.0 with CPU ops, MAX_JOBS=$jobs"
    CUDA_VISIBLE_DEVICES="" MMCV_WITH_OPS=1 MAX_JOBS=$jobs \
      $pip install --no-index --no-deps --no-build-isolation "$WHEELS"/mmcv-2.1.0.tar.gz ||
      return 1
  fi
  $pip install --no-index --no-deps --no-build-isolation -e . || return 1
  "$VENV/bin/python" -c "import okdhp_mm, mmcv._ext, mmpose.models, mmdet.utils" || return 1
}

device=cuda tiny=() work=() out=""
while (($#)); do
  case $1 in
    --cpu) device=cpu ;;
    --tiny) tiny=(--tiny) ;;
    --work) work=(--work "$2"); shift ;;
    --prepare-wheels) prepare_wheels "${2:-$WHEELS}"; exit $? ;;
    -h|--help) usage ;;
    -*) echo "gpu_check.sh: unknown option $1" >&2; usage ;;
    *) [[ -z $out ]] || usage; out=$1 ;;
  esac
  shift
done
[[ -n $out ]] || usage
mkdir -p "$out"
log="$out/install.log"

t0=$(date +%s)
stamp="$VENV/.okdhp_gpu_check_offline"
want=$(cat tools/gpu_check.sh setup.cfg 2>/dev/null | sha256sum | cut -c1-16)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]] && "$VENV/bin/python" -c "import okdhp_mm" \
    2>/dev/null; then
  route="offline .venv (system torch + $WHEELS), up to date"; install_ok=1
  echo "[gpu-check] $route" | tee "$log"
elif [[ ! -f $VENV/.okdhp_stack_stamp && -f $WHEELS/mmcv-2.1.0.tar.gz ]]; then
  route="offline: ${GPU_CHECK_PYTHON:-python3}'s torch + $WHEELS (mmcv, xtcocotools built)"
  echo "[gpu-check] install: $route"
  if offline_install 2>&1 | tee "$log"; then install_ok=1; echo "$want" > "$stamp"
  else install_ok=0; route="$route (failed, see install.log)"; fi
else
  echo "[gpu-check] install: tools/setup_env.sh (MAX_JOBS=${MAX_JOBS:-$(nproc)})"
  if MAX_JOBS=${MAX_JOBS:-$(nproc)} bash tools/setup_env.sh 2>&1 | tee "$log"; then
    install_ok=1; route="tools/setup_env.sh"
    grep -q "is up to date" "$log" && route="tools/setup_env.sh: .venv up to date"
  else install_ok=0; route="tools/setup_env.sh (failed, see install.log)"; fi
fi
seconds=$(( $(date +%s) - t0 ))
echo "[gpu-check] install: $route, ${seconds} s"

# The summary is written even when the install failed (this part needs no torch).
py=$VENV/bin/python
[[ $py == /* ]] || py="$(pwd)/$py"
command -v python3 >/dev/null && orchestrator=python3 || orchestrator=$py
exec "$orchestrator" tools/gpu_check.py "$out" --device "$device" "${tiny[@]}" "${work[@]}" \
  --python "$py" --install-seconds "$seconds" --install-ok "$install_ok" \
  --install-route "$route"
