#!/usr/bin/env bash
# The test command: lints the SAM template (cfn-lint), installs Chromium
# (Debian's) when missing, starts the AWS emulator (moto) on a free loopback
# port, runs every test against it, the embedded adapters and the browser,
# and stops it again, whatever happens, then schemathesis against `sunset
# serve`. cfn-lint, moto, aiosmtpd (the SMTP server tests/smtp.rs starts)
# and schemathesis come from PyPI and are installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import cfnlint' 2>/dev/null || python3 -m pip install --quiet cfn-lint
# The local SMTP server the SMTP mailer's tests send to (tests/smtp.rs).
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd
# The deployment template first: it is cheap and says what the functions need.
python3 -c "import sys; from cfnlint.runner import main; sys.argv = ['cfn-lint', 'infra/template.yaml']; sys.exit(main())"
# The e-mails are checked in a real browser (tests/browser.rs): Debian's
# Chromium, with the CJK fonts a Chinese reader's screen has.
if ! command -v chromium > /dev/null || ! fc-list ':lang=zh' 2> /dev/null | grep -q .; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk > /dev/null
fi
source tests/emulator.sh
# Property tests draw the same cases on every run here, so CI is stable;
# `PROPTEST_RNG_SEED=<n>` picks other ones, and a plain `cargo test` draws
# fresh ones each time. A failure found so becomes a named unit test.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-2027}"
# The Lambda binaries too: a test runs each against a runtime API.
cargo build --workspace --bins
cargo test --workspace "$@"
# Generated cases from /v1/openapi.json against `sunset serve` (the binary
# built above): no server error, every answer true to the document.
bash tests/schemathesis/run.sh
