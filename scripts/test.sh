#!/usr/bin/env bash
# The whole test suite: build, type-check, lint, format check, then every unit
# and end-to-end test with node's test runner. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
npx tsc -p tsconfig.json
npx tsc -p web/tsconfig.json
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
mapfile -t files < <(find src test web -name '*.test.ts' -not -path '*/node_modules/*' | sort)
log=$(mktemp)
status=0
node --no-node-snapshot --import tsx --test --test-reporter=tap "${files[@]}" | tee "$log" || status=$?
passed=$(grep -E '^# pass ' "$log" | tail -1 | awk '{print $3}')
failed=$(grep -E '^# fail ' "$log" | tail -1 | awk '{print $3}')
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
