# Sourced by tests/run.sh and the benchmarks: installs moto from PyPI when
# missing, starts it on a free loopback port, points the AWS SDK at it with
# test credentials, and stops it when the sourcing script exits.
python3 -c 'import moto.server' 2>/dev/null || python3 -m pip install --quiet 'moto[server]'
emulator_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
# tests/emulator.py: moto, with DynamoDB transactions isolated as on AWS.
python3 tests/emulator.py -H 127.0.0.1 -p "$emulator_port" > target/moto.log 2>&1 &
emulator_pid=$!
# A busy moto may sit out SIGTERM: give it two seconds, then SIGKILL.
stop_emulator() {
    kill "$emulator_pid" 2>/dev/null || return 0
    for _ in $(seq 1 20); do
        kill -0 "$emulator_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
}
trap stop_emulator EXIT
for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$emulator_port/moto-api/" > /dev/null && break
    kill -0 "$emulator_pid" 2>/dev/null || { cat target/moto.log; echo "moto did not start" >&2; exit 1; }
    sleep 0.2
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$emulator_port"
export AWS_REGION=eu-central-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
