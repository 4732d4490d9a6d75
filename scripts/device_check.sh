#!/usr/bin/env bash
# GPU checks for a lent machine (no internet; torch, CuPy, scikit-build-core, pybind11,
# scikit-image and pytest are already there; pydicom travels as a wheel in .whl/, see the
# device tool's README). Prints one summary table; logs and JSON go to $OUT.
#
#   scripts/device_check.sh kernels   build, the CUDA tests of the ops and training,
#                                     compute-sanitizer memcheck/racecheck/initcheck
#   scripts/device_check.sh product   the GPU benchmarks of the ops (ours vs CuPy, both
#                                     paths of each op), and with the shipped weights the
#                                     product's CUDA tests, scripts/gpu_e2e.py and
#                                     `boneage bench --device cuda`
#   scripts/device_check.sh all       both
#
# The tracked tree (90 MiB, of which the two shipped weights 84 MiB) is over the device
# tool's 64 MiB. So the weights leave the index for the lease (`git rm --cached` plus
# .git/info/exclude; put back after) and travel one per call as carried paths: the
# regressor with `kernels`, the detector with `product` on the still-warm machine, where
# ignored files of the earlier call stay. The build goes to build/device (ignored, kept
# between calls): pip's editable build stopped there with "Cannot import
# 'scikit_build_core.build'" on 2026-12-04, so CMake is run by hand.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
OUT=${OUT:-/tmp/device_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
status=()
t_start=$(date +%s)

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
  printf '%s\n' "${status[@]}" | column -t -s'|'; exit 1
fi
python3 -c "import boneage_fast, json; print(json.dumps(boneage_fast.build_info()))" | tee "$OUT/build_info.json"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
weights=$(ls boneage_fast/weights/*.safetensors 2>/dev/null | xargs -n1 basename 2>/dev/null | tr '\n' ' ')
echo "weights here: ${weights:-none}"

if [[ $mode == kernels || $mode == all ]]; then
  # The CUDA tests of the ops, the torch ops and training (the product's need both weights).
  timeout 240 python3 -m pytest python_tests -q -m cuda -p no:cacheprovider --deselect python_tests/test_product.py \
    >"$OUT/pytest_cuda.log" 2>&1
  status+=("pytest -m cuda (ops, training)|rc=$?|$(tail -1 "$OUT/pytest_cuda.log")")
  # compute-sanitizer on a driver that launches every kernel on both paths of each op.
  for tool in memcheck racecheck initcheck; do
    timeout 150 compute-sanitizer --tool "$tool" --error-exitcode 99 python3 scripts/sanitize_driver.py \
      >"$OUT/sanitize_$tool.log" 2>&1
    rc=$?
    summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitize_$tool.log" | tail -1)
    status+=("compute-sanitizer $tool|rc=$rc|${summary:-no summary line}")
  done
fi

if [[ $mode == product || $mode == all ]]; then
  timeout 180 python3 benchmarks/bench_ops.py --gpu --out "$OUT/bench_gpu.json" >"$OUT/bench_gpu.log" 2>&1
  status+=("benchmarks/bench_ops.py --gpu|rc=$?|bench_gpu.json")
  python3 - "$OUT/bench_gpu.json" <<'EOF' || true
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    extra = {k: round(v, 3) for k, v in r.items() if k.endswith("_ms") and k not in ("ours_ms", "reference_ms")}
    print(f"{r['op']} {r['shape']}: ours {r['ours_ms']:.3f} ms, {r['reference']} {r['reference_ms']:.3f} ms, {extra}")
EOF
  if [[ $(ls boneage_fast/weights/*.safetensors 2>/dev/null | wc -l) -ge 2 ]]; then
    timeout 200 python3 -m pytest python_tests/test_product.py -q -m cuda -p no:cacheprovider -rs \
      >"$OUT/pytest_product_cuda.log" 2>&1
    status+=("pytest test_product -m cuda|rc=$?|$(tail -1 "$OUT/pytest_product_cuda.log")")
    timeout 200 python3 scripts/gpu_e2e.py --images 16 --repeats 5 --out "$OUT/e2e_gpu.json" \
      >"$OUT/e2e_gpu.log" 2>&1
    status+=("scripts/gpu_e2e.py|rc=$?|e2e_gpu.json")
    tail -6 "$OUT/e2e_gpu.log"
  else
    status+=("product on CUDA|not run|the two shipped weights are not both here")
  fi
fi

echo
printf '%s\n' "${status[@]}" | column -t -s'|'
echo "device_check.sh $mode: $(( $(date +%s) - t_start )) s"
