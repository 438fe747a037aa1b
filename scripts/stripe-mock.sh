#!/usr/bin/env bash
# Starts and stops stripe-mock (Stripe's own mock of its API, answering from
# the OpenAPI spec and fixtures) for the tests of the Stripe connector.
#
#   scripts/stripe-mock.sh start   # prints the endpoint, e.g. http://127.0.0.1:12111
#   scripts/stripe-mock.sh stop
#
# `make test` runs `start`, exports LETHE_STRIPE_ENDPOINT and runs `stop` on
# exit. `start` installs stripe-mock into .tools/bin with `go install` when
# it is missing. stripe-mock is stateless: it validates each request against
# the spec and answers fixtures (a list of customers answers the same
# fixture customer whatever the filter; a deletion always succeeds).
#
# Environment: STRIPE_MOCK_PORT pins the port (default: 12111, or the next
# free port above it when 12111 is taken).
set -euo pipefail

name=stripe-mock
default_port=12111
port_var=STRIPE_MOCK_PORT
what="GET /v1/customers"
version=v0.203.0
tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools"

answers() {
	curl -fsS -o /dev/null --max-time 2 "$1/v1/customers?limit=1" \
		-H 'Authorization: Bearer sk_test_123' 2>/dev/null
}

prepare() {
	[[ -x $tools/bin/stripe-mock ]] && return
	command -v go >/dev/null || { log "go is not on PATH: it installs stripe-mock"; exit 1; }
	log "installing github.com/stripe/stripe-mock@$version into $tools/bin"
	mkdir -p "$tools/bin"
	# go install PACKAGE@VERSION builds outside the module: go.mod is untouched.
	GOBIN="$tools/bin" go install "github.com/stripe/stripe-mock@$version" >&2
}

# On the loopback interface only; its HTTPS listener (which it opens
# whatever the flags, on 12112 unless told) on a port the system picks.
launch() {
	nohup "$tools/bin/stripe-mock" -http-addr "127.0.0.1:$1" -https-addr 127.0.0.1:0 >"$logfile" 2>&1 </dev/null &
}

source "$(dirname "${BASH_SOURCE[0]}")/lib/local-server.sh"
main "$@"
