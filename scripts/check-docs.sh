#!/usr/bin/env bash
# The documentation builds without a single DocC warning: swift-docc-plugin's
# generate-documentation with DocC's --warnings-as-errors, over each public library target.
# A link to a symbol that does not exist, an ambiguous link, an undocumented parameter in a
# `- Parameters:` list or an article named like a symbol fails the check, which prints each
# problem with its file and line, then one summary line.
# Usage: scripts/check-docs.sh [target…]   (default: Nabla NablaDistributed)
set -euo pipefail
cd "$(dirname "$0")/.."
swift="${SWIFT:-swift}"
if [ $# -gt 0 ]; then targets=("$@"); else targets=(Nabla NablaDistributed); fi

out=$(mktemp "${TMPDIR:-/tmp}/check-docs.XXXXXX")
err=$(mktemp "${TMPDIR:-/tmp}/check-docs.XXXXXX")
trap 'rm -f "$out" "$err"' EXIT
failures=0
for target in "${targets[@]}"; do
  start=$SECONDS
  if "$swift" package generate-documentation --target "$target" --warnings-as-errors \
    >"$out" 2>"$err"; then
    echo "check-docs: $target: no DocC warnings ($((SECONDS - start)) s)"
    continue
  fi
  failures=$((failures + 1))
  # DocC prints each problem on standard output as `error: …` (a warning made an error), then
  # its location, relative to the target's catalog, and the source lines, then a blank line.
  problems=$(awk '/^(error|warning): /{show = 1} show {print} /^$/{show = 0}' "$out" \
    | sed -E "s#^( *--> )\.\./#\1Sources/$target/#")
  if [ -n "$problems" ]; then
    echo "$problems"
    count=$(grep -cE '^(error|warning): ' <<<"$problems")
    echo "check-docs: $target: $count DocC problem(s), listed above: fix each (warnings count as errors)"
  else
    grep -v '^\[' "$err" | tail -n 30
    echo "check-docs: $target: generate-documentation failed (see its output above)"
  fi
done
[ "$failures" -eq 0 ]
