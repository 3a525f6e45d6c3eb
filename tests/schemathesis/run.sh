#!/usr/bin/env bash
# Schemathesis (from PyPI) against `sunset serve` on a fresh data directory:
# cases generated from /v1/openapi.json for every route, each answer checked
# for a server error and against the document (status, content type,
# schema). Fails on any, and when fewer than MIN_CASES cases ran. Needs the
# `sunset` binary built (tests/run.sh builds it first).
set -euo pipefail
cd "$(dirname "$0")/../.."
MIN_CASES=500
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet schemathesis
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
scratch=$(mktemp -d)
export SUNSET_ADMIN_TOKEN="schemathesis-admin-0123456789"
export SUNSET_PRODUCT_KEY="schemathesis-product-0123456789"
export SUNSET_HELP_DESK_KEY="schemathesis-help-desk-0123456789"
export SUNSET_PRODUCT_SIGNING_KEY="5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
mkdir -p target
target/debug/sunset serve --addr "127.0.0.1:$port" --data "$scratch/data" > target/schemathesis-serve.log 2>&1 &
serve_pid=$!
stop_serve() {
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap stop_serve EXIT
for _ in $(seq 1 100); do
    curl -sf "$base/healthz" > /dev/null && break
    kill -0 "$serve_pid" 2>/dev/null || { cat target/schemathesis-serve.log; exit 1; }
    sleep 0.1
done
# The example campaign and three customers, so the cases that name them
# (the document's examples) reach past "no such campaign".
admin=(-H "Authorization: Bearer $SUNSET_ADMIN_TOKEN")
curl -sf "${admin[@]}" -H 'Content-Type: application/toml' \
    --data-binary @examples/orbit-crm.toml "$base/v1/campaigns" > /dev/null
curl -sf "${admin[@]}" -H 'Content-Type: text/csv' --data-binary @- \
    "$base/v1/campaigns/orbit-crm-2027/customers" > /dev/null <<'CSV'
customer_id,name,email,locale,timezone,contract_value,currency,customer_since,usage_score,strategic,account_manager
C000001,Garcia Trading,owen@example.com,en,Europe/Berlin,45900.14,EUR,2019-11-01,90,true,am@example.com
C000002,Brown Logistics,leo@example.com,en-GB,Europe/London,948.46,EUR,2022-07-01,40,false,
C000003,Wang Foods,li@example.com,zh-CN,Asia/Shanghai,120.00,EUR,2025-03-01,5,false,
CSV
st --config-file tests/schemathesis/schemathesis.toml run "$base/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples 30 --seed 2027 --no-color \
    --report ndjson --report-ndjson-path target/schemathesis.ndjson \
    "$@"
python3 - "$MIN_CASES" <<'PY'
import json, sys
minimum = int(sys.argv[1])
cases = 0
for line in open("target/schemathesis.ndjson"):
    event = json.loads(line)
    for kind, body in event.items():
        if kind == "ScenarioFinished":
            cases += len(body.get("recorder", {}).get("cases", {}))
print(f"schemathesis: {cases} cases")
if cases < minimum:
    sys.exit(f"schemathesis ran {cases} cases; at least {minimum} are needed")
PY
