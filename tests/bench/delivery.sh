#!/usr/bin/env bash
# Benchmark (not a test): delivery paced to a configured rate on the
# emulator (tests/bench/delivery_rate.rs). SES gets an emulator process of
# its own: one moto process serves one core's worth of requests, and a
# message costs a claim and a mark in DynamoDB besides its SendEmail.
# Usage: tests/bench/delivery.sh [CUSTOMERS, default 10000] [RATE, default 100] [metered|unmetered]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/emulator.sh
ses_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$ses_port" > target/moto-ses.log 2>&1 &
ses_pid=$!
trap 'kill "$ses_pid" 2>/dev/null; stop_emulator' EXIT
for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$ses_port/moto-api/" > /dev/null && break
    sleep 0.2
done
export AWS_ENDPOINT_URL_SESV2="http://127.0.0.1:$ses_port"
cargo run --quiet -p sunset-e2e --example delivery_rate -- "$@"
