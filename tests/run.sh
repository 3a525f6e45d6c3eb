#!/usr/bin/env bash
# The test command: lints the SAM template (cfn-lint), starts the AWS
# emulator (moto) on a free loopback port, runs every test against it and
# the embedded adapters, and stops it again, whatever happens. Both tools
# come from PyPI and are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import moto.server' 2>/dev/null || python3 -m pip install --quiet 'moto[server]'
python3 -c 'import cfnlint' 2>/dev/null || python3 -m pip install --quiet cfn-lint
# The deployment template first: it is cheap and says what the functions need.
python3 -c "import sys; from cfnlint.runner import main; sys.argv = ['cfn-lint', 'infra/template.yaml']; sys.exit(main())"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
python3 -m moto.server -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null; wait "$moto" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$port/moto-api/" > /dev/null && break
    kill -0 "$moto" 2>/dev/null || { cat target/moto.log; echo "moto did not start" >&2; exit 1; }
    sleep 0.2
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=eu-central-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
# The Lambda binaries too: a test runs each against a runtime API.
cargo build --workspace --bins
cargo test --workspace "$@"
