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
"target/$dir/examples/operator_api" embedded "$n"
# The emulator copies its whole table for each transaction (the status
# changes set up before a listing use them), which at 100,000 customers
# takes it past 20 GB: on the emulator the metered import and the listing
# are measured at N with none migrated, and the listing with a tenth
# migrated at 3,000 (LISTING_ON_EMULATOR overrides; at 20,000 even a fresh
# emulator runs out of memory setting it up).
# Each run starts from an empty emulator (moto's reset), so none pays for
# the tables of the runs before it.
fresh() { curl -sf -X POST "$AWS_ENDPOINT_URL/moto-api/reset" > /dev/null; }
fresh && "target/$dir/examples/operator_api" dynamo-unmetered "$n" import-only
fresh && MIGRATED_EVERY=0 "target/$dir/examples/operator_api" dynamo "$n"
fresh && "target/$dir/examples/operator_api" dynamo "${LISTING_ON_EMULATOR:-3000}"
