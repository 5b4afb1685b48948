#!/usr/bin/env bash
# The floors of Nabla (kernels → tensor → graph → layers → training → command line), checked.
# Fails with a one-line reason per violation:
#   1. Layers/, Training/ and the command line call no BLAS compute routine or cblas_, and use
#      no withUnsafe… or baseAddress: they work in Tensor, Variable and Parameter. Allowed by
#      name: BLAS.threadCount, BLAS.setThreadCount, BLAS.configuration, BLAS.coreName, and
#      `nabla report` (Report.swift), whose job is to time the kernels themselves.
#   2. Checks/, the ground floor, uses no type declared above it.
#   3. No convolution entry point decides its algorithm by itself: the kernels' predicates are
#      asked by ConvolutionAlgorithm alone.
# Usage: scripts/check-floors.sh [root]   (default: the repository this script is in)
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"
sources=Sources/Nabla

failures=0
fail() { echo "check-floors: $1"; failures=$((failures + 1)); }

# Code without comments and string literals, with line numbers: `file:line:code`.
code() {
  grep -nH '' "$@" | sed -E 's/"([^"\\]|\\.)*"/""/g; s#//.*$##'
}

# 1. Above the tensor floor: no BLAS, no pointers.
upper=$(find "$sources/Layers" "$sources/Training" Sources/NablaCommand -name '*.swift' \
  ! -path Sources/NablaCommand/Report.swift | sort)
for file in $upper; do
  code "$file" | grep -E 'BLAS\.[A-Za-z]+|cblas_|withUnsafe|baseAddress' \
    | grep -vE 'BLAS\.(threadCount|setThreadCount|configuration|coreName)\b' \
    | while IFS= read -r hit; do
        where=$(echo "$hit" | cut -d: -f1,2)
        what=$(echo "$hit" | cut -d: -f3- | grep -oE 'BLAS\.[A-Za-z]+|cblas_[A-Za-z_]*|withUnsafe[A-Za-z]*|baseAddress' | head -1)
        echo "check-floors: $where uses $what above the tensor floor (work in Tensor, Variable and Parameter)"
      done
done > /tmp/check-floors.$$ || true
if [ -s /tmp/check-floors.$$ ]; then cat /tmp/check-floors.$$; failures=$((failures + $(wc -l < /tmp/check-floors.$$))); fi
rm -f /tmp/check-floors.$$

# 2. Checks/ uses no type declared above it.
above=$(find "$sources" -name '*.swift' ! -path "$sources/Checks/*" -print0 \
  | xargs -0 grep -hoE '^((public|open|internal|fileprivate|private|final|@usableFromInline|@frozen) )*(struct|enum|class|protocol|actor) [A-Z][A-Za-z0-9]*' \
  | awk '{print $NF}' | sort -u)
for type in $above; do
  code "$sources"/Checks/*.swift | grep -wE "$type" | head -1 | while IFS= read -r hit; do
    echo "check-floors: $(echo "$hit" | cut -d: -f1,2) uses $type, declared above Checks/ (move it into Checks/ or check plain values)"
  done
done > /tmp/check-floors.$$ || true
if [ -s /tmp/check-floors.$$ ]; then cat /tmp/check-floors.$$; failures=$((failures + $(wc -l < /tmp/check-floors.$$))); fi
rm -f /tmp/check-floors.$$

# 3. One convolution dispatcher.
predicates='\b(pays|paysForInputGradient|handlesForward|handlesInputGradient|handlesFilterGradient|usesDirectForward|usesDirectFilterGradient)\('
code $(find "$sources" -name '*.swift' ! -path "$sources/Kernels/*" ! -path "$sources/Tensor/ConvolutionAlgorithm.swift" | sort) \
  | grep -E "$predicates" | while IFS= read -r hit; do
    echo "check-floors: $(echo "$hit" | cut -d: -f1,2) picks a convolution algorithm itself; ask ConvolutionAlgorithm.select"
  done > /tmp/check-floors.$$ || true
if [ -s /tmp/check-floors.$$ ]; then cat /tmp/check-floors.$$; failures=$((failures + $(wc -l < /tmp/check-floors.$$))); fi
rm -f /tmp/check-floors.$$

if [ "$failures" -gt 0 ]; then
  echo "check-floors: $failures violation(s) of the floors (see the README's layout)"
  exit 1
fi
echo "check-floors: the floors hold"
