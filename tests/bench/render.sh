#!/usr/bin/env bash
# Benchmark (not a test): render throughput per channel at CUSTOMERS
# customers (tests/bench/render_throughput.rs), release build.
# Usage: tests/bench/render.sh [CUSTOMERS, default 100000]   (PROFILE=dev for a quick debug build)
set -euo pipefail
cd "$(dirname "$0")/../.."
profile="${PROFILE:-release}"
cargo build --profile "$profile" -p sunset-e2e --example render_throughput >&2
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
"target/$dir/examples/render_throughput" "${1:-100000}"
