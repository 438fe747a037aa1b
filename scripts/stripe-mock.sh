#!/usr/bin/env bash
# Starts and stops stripe-mock (Stripe's own mock of its API, answering from
# the OpenAPI spec and fixtures) for the tests of the Stripe connector.
#
#   scripts/stripe-mock.sh start   # prints the endpoint, e.g. http://127.0.0.1:12111
#   scripts/stripe-mock.sh stop
#
# Run the connector's tests with it:
#
#   ep=$(scripts/stripe-mock.sh start) && LETHE_STRIPE_ENDPOINT=$ep go test ./internal/connector/stripe/; scripts/stripe-mock.sh stop
#
# `start` installs stripe-mock into .tools/bin with `go install` when it is
# missing. stripe-mock is stateless: it validates each request against the
# spec and answers fixtures (a list of customers answers the same fixture
# customer whatever the filter; a deletion always succeeds).
#
# Environment: STRIPE_MOCK_PORT pins the port (default: 12111, or the next
# free port above it when 12111 is taken).
set -euo pipefail

version=v0.203.0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/.tools/bin/stripe-mock"
pidfile="$root/.tools/stripe-mock.pid"
endpointfile="$root/.tools/stripe-mock.endpoint"
logfile="$root/.tools/stripe-mock.log"

log() { echo "stripe-mock: $*" >&2; }

# listening PORT: true when something accepts connections on the port.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# answers ENDPOINT: true when the server answers a list of customers.
answers() {
	curl -fsS -o /dev/null --max-time 2 "$1/v1/customers?limit=1" \
		-H 'Authorization: Bearer sk_test_123' 2>/dev/null
}

running_pid() {
	[[ -f $pidfile ]] || return 1
	local pid
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install() {
	[[ -x $bin ]] && return
	command -v go >/dev/null || { log "go is not on PATH: it installs stripe-mock"; exit 1; }
	log "installing github.com/stripe/stripe-mock@$version into $root/.tools/bin"
	mkdir -p "$root/.tools/bin"
	# go install PACKAGE@VERSION builds outside the module: go.mod is untouched.
	GOBIN="$root/.tools/bin" go install "github.com/stripe/stripe-mock@$version" >&2
}

start() {
	if running_pid >/dev/null && [[ -f $endpointfile ]] && answers "$(<"$endpointfile")"; then
		log "already running (pid $(<"$pidfile"))"
		cat "$endpointfile"
		return
	fi
	install

	local port=${STRIPE_MOCK_PORT:-}
	if [[ -n $port ]]; then
		if listening "$port"; then
			log "port $port (STRIPE_MOCK_PORT) is already in use"
			exit 1
		fi
	else
		port=12111
		while listening "$port"; do
			port=$((port + 1))
			if ((port > 12211)); then
				log "no free port in 12111-12211; set STRIPE_MOCK_PORT"
				exit 1
			fi
		done
	fi

	local endpoint="http://127.0.0.1:$port"
	# HTTP only, on the loopback interface only.
	nohup "$bin" -http-addr "127.0.0.1:$port" >"$logfile" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$pidfile"
	echo "$endpoint" >"$endpointfile"

	local deadline=$((SECONDS + 30))
	until answers "$endpoint"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "exited during start-up; its log ($logfile):"
			tail -n 20 "$logfile" >&2 || true
			rm -f "$pidfile" "$endpointfile"
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			log "did not answer GET /v1/customers within 30 s; stopping it"
			kill "$pid" 2>/dev/null || true
			rm -f "$pidfile" "$endpointfile"
			exit 1
		fi
		sleep 0.2
	done
	log "pid $pid listening on $endpoint"
	echo "$endpoint"
}

stop() {
	local pid
	if ! pid=$(running_pid); then
		log "not running"
		rm -f "$pidfile" "$endpointfile"
		return
	fi
	kill "$pid"
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored TERM; killing it"
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile" "$endpointfile"
	log "stopped pid $pid"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
