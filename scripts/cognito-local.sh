#!/usr/bin/env bash
# Starts and stops cognito-local (an emulator of Amazon Cognito user pools'
# API) for the tests of the Cognito connector.
#
#   scripts/cognito-local.sh start   # prints the endpoint, e.g. http://127.0.0.1:9229
#   scripts/cognito-local.sh stop
#
# `make test` runs `start`, exports LETHE_COGNITO_ENDPOINT and runs `stop` on
# exit. cognito-local comes from npm, installed into .tools by `make setup`;
# it keeps its pools in .tools/cognito-local.data/ (emptied at each start).
# Its pools take usernames that are not emails (configured at start).
#
# Environment: COGNITO_LOCAL_PORT pins the port (default: 9229, or the next
# free port above it when 9229 is taken).
set -euo pipefail

name=cognito-local
default_port=9229
port_var=COGNITO_LOCAL_PORT
what=ListUserPools
tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools"

answers() {
	curl -fsS -o /dev/null --max-time 2 -X POST "$1" \
		-H 'Content-Type: application/x-amz-json-1.1' \
		-H 'X-Amz-Target: AWSCognitoIdentityProviderService.ListUserPools' \
		-d '{"MaxResults":1}' 2>/dev/null
}

prepare() {
	if [[ ! -x $tools/node_modules/.bin/cognito-local ]]; then
		log "$tools/node_modules/.bin/cognito-local is missing: run make setup (npm ci in .tools)"
		exit 1
	fi
	rm -rf "$tools/cognito-local.data"
	mkdir -p "$tools/cognito-local.data/.cognito"
	# Pools whose usernames are free-form unless a test asks otherwise
	# (cognito-local's default makes every username an email).
	echo '{"UserPoolDefaults": {"UsernameAttributes": []}}' >"$tools/cognito-local.data/.cognito/config.json"
}

# It keeps its data under ./.cognito of its working directory.
launch() {
	(cd "$tools/cognito-local.data" && HOST=127.0.0.1 PORT="$1" exec nohup "$tools/node_modules/.bin/cognito-local" >"$logfile" 2>&1 </dev/null) &
}

source "$(dirname "${BASH_SOURCE[0]}")/lib/local-server.sh"
main "$@"
