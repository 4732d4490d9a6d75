#!/usr/bin/env bash
# GPU checks for a lent machine (no internet; torch, CuPy, scikit-build-core, pybind11,
# scikit-image and pytest are already there; pydicom travels as a wheel in .whl/, see the
# device tool's README). Prints one summary table; logs and JSON go to $OUT (at most 6
# files a call, under the tool's 8).
#
#   scripts/device_check.sh kernels   build, the CUDA tests of the ops and training,
#                                     compute-sanitizer memcheck
#   scripts/device_check.sh product   compute-sanitizer racecheck and initcheck, the GPU
#                                     benchmarks of the ops (ours vs CuPy, both
#                                     paths of each op), and with the shipped weights the
#                                     product's CUDA tests, scripts/gpu_e2e.py and
#                                     `boneage bench --device cuda`
#   scripts/device_check.sh all       both
#   scripts/device_check.sh ops       after a kernel change: the ops' CUDA tests, the three
#                                     sanitizers, the ops' benchmarks and where their GPU
#                                     time goes (scripts/gpu_profile_ops.py); no weights
#
# The tracked tree (90 MiB, of which the two shipped weights 84 MiB) is over the device
# tool's 64 MiB. So the weights leave the index for the lease (`git rm --cached` plus
# .git/info/exclude; put back after) and travel one per call as carried paths: the
# regressor with `kernels`, then the detector with `product` within the 30 s the machine
# stays warm. A file carried by one call is gone in the next, so each call copies the
# weights it finds to build/keep/ (ignored, not carried: kept while the machine is warm)
# and back. The build goes to build/device, kept likewise. pip's editable build stopped
# there with "Cannot import 'scikit_build_core.build'" on 2026-12-04, so CMake is run by
# hand. Ran as `kernels` then `product` on one H200, 2026-12-04 (benchmarks/README.md);
# `ops` has not run yet.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
OUT=${OUT:-/tmp/device_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
status=()
t_start=$(date +%s)
table() { for row in "${status[@]}"; do IFS='|' read -r a b c <<<"$row"; printf '%-36s %-12s %s\n' "$a" "$b" "$c"; done; }

if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

t0=$(date +%s)
if cmake -S . -B build/device -G "$(command -v ninja >/dev/null && echo Ninja || echo 'Unix Makefiles')" \
     -DCMAKE_BUILD_TYPE=Release -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" \
     -DPython_EXECUTABLE="$(command -v python3)" -DSKBUILD_PROJECT_VERSION=0.0.0 >"$OUT/build.log" 2>&1 \
   && cmake --build build/device -j "$(nproc)" >>"$OUT/build.log" 2>&1 \
   && cp build/device/_C*.so boneage_fast/; then
  status+=("build (CMake)|ok|$(( $(date +%s) - t0 )) s")
else
  tail -30 "$OUT/build.log"; status+=("build|FAILED|see build.log")
  table; exit 1
fi
python3 -c "import boneage_fast, json; print(json.dumps(boneage_fast.build_info()))"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
# A carried weight file is gone in the next call; a copy in build/ (ignored, not carried)
# stays while the machine is warm.
mkdir -p build/keep
cp -n boneage_fast/weights/*.safetensors build/keep/ 2>/dev/null
cp -n build/keep/*.safetensors boneage_fast/weights/ 2>/dev/null
weights=$(ls boneage_fast/weights/*.safetensors 2>/dev/null | xargs -n1 basename 2>/dev/null | tr '\n' ' ')
echo "weights here: ${weights:-none}"

# compute-sanitizer on a driver that launches every kernel on both paths of each op.
sanitize() {
  for tool in "$@"; do
    timeout 120 compute-sanitizer --tool "$tool" --error-exitcode 99 python3 scripts/sanitize_driver.py \
      >"$OUT/sanitize_$tool.log" 2>&1
    local rc=$?
    local summary
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize_$tool.log" | tail -1)
    status+=("compute-sanitizer $tool|rc=$rc|${summary:-no summary line}")
  done
}

if [[ $mode == kernels || $mode == all ]]; then
  # The CUDA tests of the ops, the torch ops and training (the product's need both weights).
  timeout 180 python3 -m pytest python_tests -q -m cuda -p no:cacheprovider --continue-on-collection-errors \
    --ignore=python_tests/test_product.py \
    >"$OUT/pytest_cuda.log" 2>&1
  status+=("pytest -m cuda (ops, training)|rc=$?|$(tail -1 "$OUT/pytest_cuda.log")")
  sanitize memcheck
fi

if [[ $mode == ops ]]; then
  timeout 180 python3 -m pytest python_tests/test_hessian_enhance.py python_tests/test_match_histograms.py \
    python_tests/test_torch_ops.py -q -m cuda -p no:cacheprovider >"$OUT/pytest_ops_cuda.log" 2>&1
  status+=("pytest -m cuda (ops)|rc=$?|$(tail -1 "$OUT/pytest_ops_cuda.log")")
  sanitize memcheck
fi

if [[ $mode == product || $mode == all || $mode == ops ]]; then
  sanitize racecheck initcheck
  timeout 180 python3 benchmarks/bench_ops.py --gpu --out "$OUT/bench_gpu.json" >/tmp/bench_gpu.log 2>&1
  rc=$?
  [[ $rc == 0 ]] || tail -15 /tmp/bench_gpu.log
  status+=("benchmarks/bench_ops.py --gpu|rc=$rc|bench_gpu.json")
  python3 - "$OUT/bench_gpu.json" <<'EOF' || true
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    extra = {k: round(v, 3) for k, v in r.items() if k.endswith("_ms") and k not in ("ours_ms", "reference_ms")}
    print(f"{r['op']} {r['shape']}: ours {r['ours_ms']:.3f} ms, {r['reference']} {r['reference_ms']:.3f} ms, {extra}")
EOF
  if [[ $mode == ops ]]; then
    timeout 120 python3 scripts/gpu_profile_ops.py 2>&1 | tee "$OUT/profile_ops.txt" | tail -30
  elif [[ $(ls boneage_fast/weights/*.safetensors 2>/dev/null | wc -l) -ge 2 ]]; then
    timeout 200 python3 -m pytest python_tests/test_product.py -q -m cuda -p no:cacheprovider -rs \
      >"$OUT/pytest_product_cuda.log" 2>&1
    status+=("pytest test_product -m cuda|rc=$?|$(tail -1 "$OUT/pytest_product_cuda.log")")
    timeout 200 python3 scripts/gpu_e2e.py --images 16 --repeats 5 --out "$OUT/e2e_gpu.json" \
      >/tmp/e2e_gpu.log 2>&1
    status+=("scripts/gpu_e2e.py|rc=$?|e2e_gpu.json")
    tail -8 /tmp/e2e_gpu.log
  else
    status+=("product on CUDA|not run|the two shipped weights are not both here")
  fi
fi

echo
table
echo "device_check.sh $mode: $(( $(date +%s) - t_start )) s"
