# Shared start/stop of the local servers the tests speak to (DynamoDB
# Local, stripe-mock, cognito-local). A server's script sets, then sources
# this file and calls `main "$@"`:
#
#   name          the server's name, for messages and .tools/<name>.* files
#   default_port  the first port tried (the next free one above it is taken)
#   port_var      the environment variable that pins the port
#   what          what answers() asks, for the timeout message
#   answers ENDPOINT   true when the server answers there
#   launch PORT        starts it in the background on 127.0.0.1:PORT,
#                      output to $logfile (its pid is $!)
#   prepare            (optional) checks or installs what launch needs
#
# `start` prints the endpoint (http://127.0.0.1:PORT) on stdout, everything
# else on stderr; `stop` stops what `start` started.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pidfile="$root/.tools/$name.pid"
endpointfile="$root/.tools/$name.endpoint"
logfile="$root/.tools/$name.log"

log() { echo "$name: $*" >&2; }

# listening PORT: true when something accepts connections on the port.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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
	if declare -F prepare >/dev/null; then
		prepare
	fi
	mkdir -p "$root/.tools"

	local port=${!port_var:-}
	if [[ -n $port ]]; then
		if listening "$port"; then
			log "port $port ($port_var) is already in use"
			exit 1
		fi
	else
		port=$default_port
		while listening "$port"; do
			port=$((port + 1))
			if ((port > default_port + 100)); then
				log "no free port in $default_port-$((default_port + 100)); set $port_var"
				exit 1
			fi
		done
	fi

	local endpoint="http://127.0.0.1:$port"
	launch "$port"
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
			log "did not answer $what within 30 s; stopping it"
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

main() {
	case "${1:-}" in
	start) start ;;
	stop) stop ;;
	*)
		echo "usage: $0 start|stop" >&2
		exit 2
		;;
	esac
}
