#!/usr/bin/env bash
# Benchmark (not a test): delivery paced to a configured rate on the
# emulator this starts and stops (tests/bench/delivery_rate.rs).
# Usage: tests/bench/delivery.sh [CUSTOMERS, default 10000] [RATE, default 100]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/emulator.sh
cargo run --quiet -p sunset-e2e --example delivery_rate -- "$@"
