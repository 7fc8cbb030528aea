#!/usr/bin/env bash
# compare.sh: likes against Redis on this machine, same workload, one table.
#
# For each round, each mix (read-heavy: 90% HAS, 5% COUNT, 5% LIKE/UNLIKE;
# read-heavy-many: the same with HAS_MANY of --batch games instead of HAS;
# read-only: 95% HAS, 5% COUNT, the read path alone; write-only: 60% LIKE,
# 40% UNLIKE) and each Redis durability setting
# (appendfsync everysec, then always: likes acknowledges only after fsync),
# it starts a fresh likesd and a fresh redis-server on loopback ports with
# their data in a temporary directory, runs `likesctl bench --target both`
# against them, and stops them. At the end it prints one table with the
# ratios likes/Redis for throughput, p99 and bytes per like.
#
# Everything listens on 127.0.0.1 only. Only the processes this script
# started are stopped (by their saved PIDs, on exit). Run time is bounded:
# about ROUNDS × 2 × (number of MIXES) × (2 × (WARMUP + DURATION) + preload
# time): some 20 minutes for ROUNDS=3 and the four default mixes on 2 cores.
#
# Environment (defaults in brackets):
#   DURATION [10s]  WARMUP [2s]  PRELOAD [1000000]  ROUNDS [1]
#   MIXES [read-heavy read-heavy-many read-only write-only]
#   CONCURRENCY [16]  DEPTH [8]  GAMES [100000]  SEED [1]
#   PIPELINING [batches] (likes side: batches, one client.Batch per worker round,
#     the shape of Redis's pipeline; or goroutines)
#   OUT [bench-results/<UTC time>]  BENCH_FLAGS (more likesctl bench flags)
#   LABEL_SUFFIX (appended to each run's label, e.g. ' (likes 2 conns)')
#   SERVER_CPUS, BENCH_CPUS (taskset CPU lists, e.g. 0 and 1: pin both servers
#     to SERVER_CPUS and the load generator to BENCH_CPUS, so each side's
#     server gets the same cores and the load generator never shares them)
#   REDIS_PORT [26379]  LIKES_PORT [27070]  LIKES_ADMIN_PORT [27071]
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PRELOAD=${PRELOAD:-1000000}
ROUNDS=${ROUNDS:-1}
MIXES=${MIXES:-read-heavy read-heavy-many read-only write-only}
CONCURRENCY=${CONCURRENCY:-16}
DEPTH=${DEPTH:-8}
GAMES=${GAMES:-100000}
SEED=${SEED:-1}
OUT=${OUT:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
PIPELINING=${PIPELINING:-batches}
BENCH_FLAGS=${BENCH_FLAGS:-}
LABEL_SUFFIX=${LABEL_SUFFIX:-}
SERVER_CPUS=${SERVER_CPUS:-}
BENCH_CPUS=${BENCH_CPUS:-}
# Command prefixes that pin to those CPUs (taskset execs its command, so
# $! is still the server's own PID).
PIN_SERVER=() PIN_BENCH=()
[ -n "$SERVER_CPUS" ] && PIN_SERVER=(taskset -c "$SERVER_CPUS")
[ -n "$BENCH_CPUS" ] && PIN_BENCH=(taskset -c "$BENCH_CPUS")
REDIS_PORT=${REDIS_PORT:-26379}
LIKES_PORT=${LIKES_PORT:-27070}
LIKES_ADMIN_PORT=${LIKES_ADMIN_PORT:-27071}

log() { printf '%s compare: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if ! command -v redis-server >/dev/null; then
	log "redis-server missing: installing it from Debian"
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update && apt-get install -y redis-server
	else
		sudo apt-get update && sudo apt-get install -y redis-server
	fi
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/likes-compare.XXXXXX")
PIDS=()
stop() { # stop PID: only processes this script started
	local pid=$1
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
}
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do stop "$pid"; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$REDIS_PORT" "$LIKES_PORT" "$LIKES_ADMIN_PORT"; do
	port_free "$p" || { log "port $p on 127.0.0.1 is in use; set REDIS_PORT/LIKES_PORT/LIKES_ADMIN_PORT"; exit 1; }
done

log "building likesd and likesctl"
go build -o "$TMP/likesd" ./cmd/likesd
go build -o "$TMP/likesctl" ./cmd/likesctl
mkdir -p "$OUT"

wait_for() { # wait_for WHAT PID CMD...: until CMD succeeds, while PID lives, 30 s at most
	local what=$1 pid=$2
	shift 2
	for _ in $(seq 300); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || { log "$what exited"; return 1; }
		sleep 0.1
	done
	log "$what did not come up"
	return 1
}

start_redis() { # start_redis FSYNC DIR -> REDIS_PID
	mkdir -p "$2"
	"${PIN_SERVER[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync "$1" \
		--dir "$2" --daemonize no --logfile "$2/redis.log" &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_for redis-server "$REDIS_PID" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping
}

start_likesd() { # start_likesd DIR -> LIKES_PID
	"${PIN_SERVER[@]}" "$TMP/likesd" --data "$1" --listen "127.0.0.1:$LIKES_PORT" --admin "127.0.0.1:$LIKES_ADMIN_PORT" \
		--log-level warn 2>"$1.log" &
	LIKES_PID=$!
	PIDS+=("$LIKES_PID")
	# Ready means /healthz 200: every shard leads and has replayed its log
	# (PING is answered before that, and early requests would be retried).
	wait_for likesd "$LIKES_PID" healthy "127.0.0.1" "$LIKES_ADMIN_PORT"
}

healthy() { # healthy HOST PORT: GET /healthz answers 200 (bash's /dev/tcp, no curl needed)
	local status
	exec 3<>"/dev/tcp/$1/$2" || return 1
	printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
	read -r _ status _ <&3 || status=
	exec 3<&- 3>&-
	[ "$status" = 200 ]
}

failed=0
runs=()
for round in $(seq "$ROUNDS"); do
	for mix in $MIXES; do
		for fsync in everysec always; do
			name="$mix-$fsync-r$round"
			log "round $round: $mix, Redis appendfsync $fsync"
			start_redis "$fsync" "$TMP/redis-$name"
			start_likesd "$TMP/likes-$name"
			# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
			if ! "${PIN_BENCH[@]}" "$TMP/likesctl" bench --target both --mix "$mix" --label "$mix$LABEL_SUFFIX" --likes-pipelining "$PIPELINING" --redis-variant "appendfsync $fsync" \
				--likes-addr "127.0.0.1:$LIKES_PORT" --likes-admin "127.0.0.1:$LIKES_ADMIN_PORT" \
				--likes-pid "$LIKES_PID" --redis-addr "127.0.0.1:$REDIS_PORT" --redis-pid "$REDIS_PID" --duration "$DURATION" --warmup "$WARMUP" \
				--preload "$PRELOAD" --concurrency "$CONCURRENCY" --depth "$DEPTH" --games "$GAMES" --seed "$SEED" \
				--out "$OUT/$name" $BENCH_FLAGS >"$OUT/$name.md"; then
				log "$name: FAILED (see $OUT/$name.md)"
				failed=1
			fi
			[ -f "$OUT/$name/results.json" ] && runs+=("$OUT/$name/results.json")
			stop "$LIKES_PID"
			stop "$REDIS_PID"
		done
	done
done

if [ "${#runs[@]}" -gt 0 ]; then
	"$TMP/likesctl" bench --summarize "${runs[@]}" | tee "$OUT/summary.md"
fi
log "results in $OUT"
exit "$failed"
