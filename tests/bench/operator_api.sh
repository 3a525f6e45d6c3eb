#!/usr/bin/env bash
# Benchmark (not a test): 100,000 customers imported through the admin API
# and every pending one listed page by page, on the embedded store and on
# DynamoDB (the emulator, started here). Rows/s, peak RSS, DynamoDB requests
# per customer, items read per customer listed.
# Usage: tests/bench/operator_api.sh [CUSTOMERS]   (PROFILE=dev for a debug build)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-100000}"
profile="${PROFILE:-release}"
source tests/emulator.sh
cargo build --profile "$profile" -p sunset-e2e --example operator_api >&2
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
echo "| work | customers | bodies / listed | time | rows/s | RSS before | peak RSS during | DynamoDB requests per customer |"
echo "|---|---|---|---|---|---|---|---|"
for runtime in embedded dynamo dynamo-unmetered; do
    "target/$dir/examples/operator_api" "$runtime" "$n"
done
