#!/usr/bin/env bash
# Vector index benchmark: Luma's Vamana and IVF (benches/vector_recall.rs) and hnswlib 0.8
# (scripts/hnswlib_bench.py, M=16, efConstruction=200) on the same generated data, then a
# recall/QPS plot (SVG) of both. Usage: scripts/bench_vectors.sh [vector_recall options]
# e.g. --n 1000000 --dim 96 --skip-ivf
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$(mktemp -d)}
python3 -c 'import hnswlib, numpy' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check numpy pybind11 'hnswlib==0.8.0'
metric=cosine
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do [[ ${args[$i]} == --metric ]] && metric=${args[$((i + 1))]}; done
cargo bench --bench vector_recall --quiet -- --out "$out" "$@"
python3 scripts/hnswlib_bench.py "$out" --metric "$metric"
python3 scripts/plot_recall.py "$out" "$out/recall_qps.svg"
echo "plot: $out/recall_qps.svg"
