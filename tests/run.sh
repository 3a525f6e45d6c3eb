#!/usr/bin/env bash
# The test command: lints the SAM template (cfn-lint), starts the AWS
# emulator (moto) on a free loopback port, runs every test against it and
# the embedded adapters, and stops it again, whatever happens. Both tools
# come from PyPI and are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import cfnlint' 2>/dev/null || python3 -m pip install --quiet cfn-lint
# The deployment template first: it is cheap and says what the functions need.
python3 -c "import sys; from cfnlint.runner import main; sys.argv = ['cfn-lint', 'infra/template.yaml']; sys.exit(main())"
source tests/emulator.sh
# Property tests draw the same cases on every run here, so CI is stable;
# `PROPTEST_RNG_SEED=<n>` picks other ones, and a plain `cargo test` draws
# fresh ones each time. A failure found so becomes a named unit test.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-2027}"
# The Lambda binaries too: a test runs each against a runtime API.
cargo build --workspace --bins
cargo test --workspace "$@"
