#!/usr/bin/env bash
# Executes every notebooks/*.ipynb with the tslab TypeScript kernel, writing the executed copies
# to test-output/notebooks/. A cell that throws or fails to type-check fails the run.
#
# The kernel is registered per checkout under test-output/jupyter (JUPYTER_PATH), not system-wide,
# and starts in the repository root with tsx loaded:
#   - tslab only compiles .ts files under its working directory (its rootDir), so the root is the
#     only directory from which notebooks can import src/; imports are written './src/....js'.
#   - `node --import tsx` lets a cell `require('./src/....ts')` any module at run time, untyped,
#     for modules tslab's bundled TypeScript 5.0 cannot type-check (see notebooks/README.md).
# tslab lives in its own prefix, notebooks/kernel (its bundled TypeScript 5.0 would otherwise take
# over node_modules/.bin/tsc); this script installs it there with `npm ci` when it is missing.
# Needs: npm ci in the root (for tsx and the project's packages), and jupyter-nbconvert +
# python3-ipykernel from apt.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if [[ ! -x notebooks/kernel/node_modules/tslab/bin/tslab ]]; then
  npm ci --prefix notebooks/kernel
fi

kernels="$root/test-output/jupyter/kernels"
mkdir -p "$kernels/tslab" test-output/notebooks
# shellcheck disable=SC2016 # $1 is expanded by the kernel's own sh, not here
printf '%s\n' "{
  \"argv\": [\"/bin/sh\", \"-c\", \"cd '$root' && exec node --import tsx notebooks/kernel/node_modules/tslab/bin/tslab kernel --config-path \\\"\$1\\\"\", \"tslab-kernel\", \"{connection_file}\"],
  \"display_name\": \"TypeScript (Prescient, tslab)\",
  \"language\": \"typescript\"
}" > "$kernels/tslab/kernel.json"
export JUPYTER_PATH="$root/test-output/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

if [[ "${1:-}" == "--setup-only" ]]; then
  echo "tslab kernel registered in $kernels (export JUPYTER_PATH=$JUPYTER_PATH)"
  exit 0
fi

shopt -s nullglob
if [[ $# -gt 0 ]]; then notebooks=("$@"); else notebooks=(notebooks/*.ipynb); fi
if [[ ${#notebooks[@]} -eq 0 ]]; then
  echo "no notebooks in notebooks/"
  exit 0
fi
# Debian's jupyter, not a pyenv shim that may shadow it on PATH.
jupyter=/usr/bin/jupyter
[[ -x "$jupyter" ]] || jupyter=jupyter
for nb in "${notebooks[@]}"; do
  echo "--- $nb"
  "$jupyter" nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --output-dir test-output/notebooks "$nb"
done
