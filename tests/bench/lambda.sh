#!/usr/bin/env bash
# Benchmark (not a test): stripped size of each release Lambda binary, and
# its init time (process start -> first poll of the runtime API) beside a
# hello-world lambda_runtime binary built the same way.
# Usage: tests/bench/lambda.sh [runs]   (release builds: many minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-20}"
bins="intake segmentation reminder-dispatch export-request purge delivery-events"
# One package at a time: each function builds with its own features (only
# the AWS SDKs it calls), as `cargo lambda build -p` does. A --workspace
# build would unify them with the tests' (everything).
mkdir -p target/lambda
for b in $bins; do
    cargo build --release -p "$b" --bin "$b" >&2
    cp "target/release/$b" "target/lambda/$b"
done
cargo build --release -p purge --example hello_runtime >&2
cp target/release/examples/hello_runtime target/lambda/hello_runtime
echo "stripped release binaries (profile.release: strip = symbols):"
for b in $bins hello_runtime; do
    printf '  %-20s %6.1f MiB\n' "$b" "$(echo "$(stat -c %s "target/lambda/$b") / 1048576" | bc -l)"
done
# The functions build their AWS clients at init; these settings let them
# start without an AWS account (no request is made before the first event).
export AWS_REGION=eu-central-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_EC2_METADATA_DISABLED=true
export SUNSET_TABLE=t SUNSET_EXPORT_BUCKET=b SUNSET_PRODUCT_DATA_BUCKET=p SUNSET_SCHEDULE_GROUP=g
export SUNSET_SCHEDULER_ROLE_ARN=arn:aws:iam::123456789012:role/r
export SUNSET_SEGMENTATION_ARN=arn:aws:lambda:eu-central-1:123456789012:function:s
export SUNSET_REMINDER_DISPATCH_ARN=arn:aws:lambda:eu-central-1:123456789012:function:d
export SUNSET_PURGE_ARN=arn:aws:lambda:eu-central-1:123456789012:function:p
# The key itself, not SUNSET_LINK_KEY_SECRET: deployed, init adds one
# Secrets Manager round trip (reminder-dispatch and export-request only),
# which needs AWS and is not measured here.
export SUNSET_LINK_KEY=$(printf 'ab%.0s' $(seq 32))
echo "init time, process start -> first poll:"
python3 tests/bench/init_time.py "$runs" target/lambda/hello_runtime $(for b in $bins; do echo "target/lambda/$b"; done)
