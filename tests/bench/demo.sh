#!/usr/bin/env bash
# Benchmark (not a test): the whole demo lifecycle at N customers, wall time
# and peak RSS. Usage: tests/bench/demo.sh [customers] [data-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-100000}"
dir="${2:-/tmp/sunset-bench}"
cargo build --release --bin sunset >&2
rm -rf "$dir"
sync
/usr/bin/time -f 'wall %e s, user %U s, sys %S s, peak RSS %M KiB' \
    target/release/sunset demo --customers "$n" --data "$dir" | tail -n 12
du -sh "$dir/outbox" "$dir/sunset.db"
echo "messages: $(ls "$dir/outbox/new" | wc -l)"
