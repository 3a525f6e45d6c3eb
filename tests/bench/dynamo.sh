#!/usr/bin/env bash
# DynamoDB requests and capacity per customer for an import, segmentation
# and reminder waves (tests/bench/dynamo_capacity.rs), on the emulator this
# starts and stops. Usage: tests/bench/dynamo.sh [CUSTOMERS, default 10000]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/emulator.sh
cargo run --quiet -p sunset-e2e --example dynamo_capacity -- "$@"
