#!/usr/bin/env bash
# Starts and stops DynamoDB Local (AWS's own DynamoDB-API server, with
# Streams and transactions) for the tests of the DynamoDB adapter and the
# DynamoDB connector.
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

name=dynamodb-local
default_port=8000
port_var=DYNAMODB_LOCAL_PORT
what=ListTables
emulator="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node_modules/amplify-dynamodb-simulator/emulator"

answers() {
	curl -fsS -o /dev/null --max-time 2 -X POST "$1" \
		-H 'Content-Type: application/x-amz-json-1.0' \
		-H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
		-H 'Authorization: AWS4-HMAC-SHA256 Credential=lethe/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
		-d '{}' 2>/dev/null
}

prepare() {
	if [[ ! -f $emulator/DynamoDBLocal.jar ]]; then
		log "$emulator/DynamoDBLocal.jar is missing: run make setup (npm ci in .tools)"
		exit 1
	fi
	command -v java >/dev/null || { log "java (17+) is not on PATH"; exit 1; }
}

# -sharedDb: one database whatever the credentials and region, so the
# DynamoDB and the DynamoDB Streams clients of a test see the same tables.
launch() {
	nohup java -Djava.library.path="$emulator/DynamoDBLocal_lib" \
		-jar "$emulator/DynamoDBLocal.jar" -inMemory -sharedDb -port "$1" \
		>"$logfile" 2>&1 </dev/null &
}

source "$(dirname "${BASH_SOURCE[0]}")/lib/local-server.sh"
main "$@"
