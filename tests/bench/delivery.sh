#!/usr/bin/env bash
# Benchmark (not a test): delivery paced to a configured rate on an
# emulator (tests/bench/delivery_rate.rs), release build.
#
# The emulator is ministack (PyPI) by default, in a virtualenv of its own
# under target/ (it pins a botocore that moto's does not match). moto
# (SUNSET_BENCH_EMULATOR=moto) is the test suite's emulator, but it copies
# the whole table for every DynamoDB transaction and serves one request at
# a time, so at 10,000 customers it, not the pacer, sets the pace (see
# BENCHMARKS.md); it then gets a second process for SES.
#
# Usage: tests/bench/delivery.sh [CUSTOMERS, default 10000] [RATE, default 100] [metered|unmetered]
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p target
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() {
    for _ in $(seq 1 150); do
        curl -sf "$1" > /dev/null && return 0
        sleep 0.2
    done
    echo "the emulator did not answer at $1" >&2
    return 1
}
case "${SUNSET_BENCH_EMULATOR:-ministack}" in
ministack)
    venv=target/ministack-venv
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import ministack' 2> /dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet 'ministack==1.5.33'
    fi
    port=$(free_port)
    BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" LOG_LEVEL=WARNING \
        "$venv/bin/python" -m ministack > target/ministack.log 2>&1 &
    pid=$!
    trap 'kill "$pid" 2> /dev/null; wait "$pid" 2> /dev/null || true' EXIT
    wait_for "http://127.0.0.1:$port/_ministack/health"
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    export AWS_REGION=eu-central-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
    export AWS_EC2_METADATA_DISABLED=true
    ;;
moto)
    source tests/emulator.sh
    ses_port=$(free_port)
    python3 -m moto.server -H 127.0.0.1 -p "$ses_port" > target/moto-ses.log 2>&1 &
    ses_pid=$!
    trap 'kill "$ses_pid" 2> /dev/null; stop_emulator' EXIT
    wait_for "http://127.0.0.1:$ses_port/moto-api/"
    export AWS_ENDPOINT_URL_SESV2="http://127.0.0.1:$ses_port"
    ;;
*)
    echo "SUNSET_BENCH_EMULATOR is ministack or moto" >&2
    exit 2
    ;;
esac
cargo run --release --quiet -p sunset-e2e --example delivery_rate -- "$@"
