#!/usr/bin/env bash
# `make run`: start `lethe local`, file one erasure for the demo subject alice
# in eu and watch it go through every subsystem of the region, then leave
# lethe local serving until Ctrl-C. Arguments go to `lethe local` (e.g.
# --speed 1, --fault eu/orders=outage). Its log goes to build/lethe-local.log
# so that the progress display stays readable.
set -euo pipefail
cd "$(dirname "$0")/.."
lethe=build/lethe
log=build/lethe-local.log
# The data directory, as lethe local reads it; the CLI below finds lethe
# local's ports in its urls.json, so --port and --region-port work.
export LETHE_DATA_DIR="${LETHE_DATA_DIR:-.lethe}"
prev=""
for a in "$@"; do
	case "$prev" in --data-dir|-data-dir) LETHE_DATA_DIR="$a" ;; esac
	case "$a" in --data-dir=*|-data-dir=*) LETHE_DATA_DIR="${a#*=}" ;; esac
	prev="$a"
done
urls="$LETHE_DATA_DIR/urls.json"
rm -f "$urls"
"$lethe" local "$@" 2>"$log" &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; exit 0; }
trap stop INT TERM
for _ in $(seq 1 400); do
	[ -s "$urls" ] && break
	kill -0 "$pid" 2>/dev/null || { echo "lethe local did not start:" >&2; cat "$log" >&2; exit 1; }
	sleep 0.05
done
[ -s "$urls" ] || { echo "lethe local wrote no $urls in 20 s (log: $log)" >&2; stop; }
echo
echo "== filing an erasure for alice in eu: build/lethe erase --region eu --watch alice"
"$lethe" erase --region eu --watch alice || true
echo
env=""
[ "$LETHE_DATA_DIR" = .lethe ] || env="LETHE_DATA_DIR=$LETHE_DATA_DIR "
console=$(sed -n 's/.*"edge": *"\([^"]*\)".*/\1/p' "$urls")
echo "== lethe local keeps running (log: $log); open the console at $console/ ; file more with ${env}build/lethe erase --region us --watch carol; Ctrl-C to stop"
wait "$pid"
