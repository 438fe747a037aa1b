#!/usr/bin/env bash
# Starts and stops DynamoDB Local (AWS's own DynamoDB-API server, with
# Streams and transactions) for the tests of the DynamoDB adapter.
#
#   scripts/dynamodb-local.sh start   # prints the endpoint, e.g. http://127.0.0.1:8000
#   scripts/dynamodb-local.sh stop
#
# `make test` runs `start`, exports LETHE_DYNAMODB_ENDPOINT and runs `stop`
# on exit. The jar comes with the npm package amplify-dynamodb-simulator,
# installed into .tools by `make setup`. The server keeps everything in
# memory: stopping it throws every table away.
#
# Environment: DYNAMODB_LOCAL_PORT pins the port (default: 8000, or the next
# free port above it when 8000 is taken).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
emulator="$root/.tools/node_modules/amplify-dynamodb-simulator/emulator"
pidfile="$root/.tools/dynamodb-local.pid"
endpointfile="$root/.tools/dynamodb-local.endpoint"
logfile="$root/.tools/dynamodb-local.log"

log() { echo "dynamodb-local: $*" >&2; }

# listening PORT: true when something accepts connections on the port.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# answers ENDPOINT: true when the server answers ListTables.
answers() {
	curl -fsS -o /dev/null --max-time 2 -X POST "$1" \
		-H 'Content-Type: application/x-amz-json-1.0' \
		-H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
		-H 'Authorization: AWS4-HMAC-SHA256 Credential=lethe/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
		-d '{}' 2>/dev/null
}

running_pid() {
	[[ -f $pidfile ]] || return 1
	local pid
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
	if running_pid >/dev/null && [[ -f $endpointfile ]] && answers "$(<"$endpointfile")"; then
		log "already running (pid $(<"$pidfile"))"
		cat "$endpointfile"
		return
	fi
	if [[ ! -f $emulator/DynamoDBLocal.jar ]]; then
		log "$emulator/DynamoDBLocal.jar is missing: run make setup (npm ci in .tools)"
		exit 1
	fi
	command -v java >/dev/null || { log "java (17+) is not on PATH"; exit 1; }

	local port=${DYNAMODB_LOCAL_PORT:-}
	if [[ -n $port ]]; then
		if listening "$port"; then
			log "port $port (DYNAMODB_LOCAL_PORT) is already in use"
			exit 1
		fi
	else
		port=8000
		while listening "$port"; do
			port=$((port + 1))
			if ((port > 8100)); then
				log "no free port in 8000-8100; set DYNAMODB_LOCAL_PORT"
				exit 1
			fi
		done
	fi

	local endpoint="http://127.0.0.1:$port"
	# -sharedDb: one database whatever the credentials and region, so the
	# DynamoDB and the DynamoDB Streams clients of a test see the same tables.
	nohup java -Djava.library.path="$emulator/DynamoDBLocal_lib" \
		-jar "$emulator/DynamoDBLocal.jar" -inMemory -sharedDb -port "$port" \
		>"$logfile" 2>&1 </dev/null &
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
			log "did not answer ListTables within 30 s; stopping it"
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
