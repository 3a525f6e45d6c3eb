#!/usr/bin/env bash
# Benchmark (not a test): peak memory of an import at 1, 8 and 32 MiB of
# CSV, on the embedded store and on DynamoDB (the emulator, started here).
# Usage: tests/bench/import.sh [MiB ...]   (PROFILE=dev for a quick debug build)
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(1 8 32)
profile="${PROFILE:-release}"
source tests/emulator.sh
cargo build --profile "$profile" --workspace --example import_memory >&2
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
echo "| runtime | body | rows | time | rows/s | RSS before | peak RSS |"
echo "|---|---|---|---|---|---|---|"
for runtime in embedded dynamo; do
    for mib in "${sizes[@]}"; do
        "target/$dir/examples/import_memory" "$runtime" "$mib"
    done
    # The issue's shape: 3 columns, many more rows for the size.
    "target/$dir/examples/import_memory" "$runtime" "${sizes[-1]}" short
done
