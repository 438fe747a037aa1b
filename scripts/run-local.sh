#!/usr/bin/env bash
# `make run`: start `lethe local`, file one erasure for the demo subject alice
# in eu and watch it go through every subsystem of the region, then leave
# lethe local serving in the foreground until Ctrl-C. Arguments go to
# `lethe local` (e.g. --speed 1, --fault eu/orders=outage).
set -euo pipefail
cd "$(dirname "$0")/.."
lethe=build/lethe
"$lethe" local "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 200); do
	(exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null && break
	kill -0 $pid 2>/dev/null || { echo "lethe local did not start" >&2; exit 1; }
	sleep 0.05
done
echo
echo "== filing an erasure for alice in eu (lethe erase --region eu --watch alice)"
"$lethe" erase --region eu --watch alice || true
echo
echo "== lethe local keeps running: status page http://127.0.0.1:8080, Ctrl-C to stop"
wait $pid
