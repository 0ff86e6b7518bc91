# shellcheck shell=bash
# Part of scripts/bench, which sources it after scripts/lib.sh (start_proc,
# stop_procs, check_alive, wait_http, fail) and then sets quick, logs, work,
# rows, pgport, scribe and the exported environment: the database, the table's
# rows, and what more than one step uses.

py() { python3 "$helpers/bench.py" "$@"; }

# An on_exit hook: what was measured before a failure, and where the logs are.
bench_failed() {
  if [ "$1" -ne 0 ]; then
    if [ -s "${rows:-}" ]; then
      log "figures measured before the failure:"
      py table "$rows" >&2
    fi
    log "scripts/bench failed (status $1); logs are in $logs"
  fi
  return "$1"
}

# ---------------------------------------------------------------------------
# Database and results.

sql() { psql -h 127.0.0.1 -p "$pgport" -U postgres -d scribe_bench -v ON_ERROR_STOP=1 -qtAX -c "$1"; }

# Empties the queue and the uploads it works on (a build from before sql/007 has no uploads table).
clear_queue() {
  sql "TRUNCATE jobs"
  # Whichever of the file flow's tables this build's migrations have (an older binary's fewer).
  sql "DO \$\$ BEGIN
         IF to_regclass('job_batches') IS NOT NULL THEN TRUNCATE job_batches; END IF;
         IF to_regclass('upload_chunks') IS NOT NULL THEN TRUNCATE upload_chunks; END IF;
         -- CASCADE: what hangs off an upload goes with it (passages, in a build that has them).
         IF to_regclass('upload_pages') IS NOT NULL THEN TRUNCATE upload_pages, uploads CASCADE;
         ELSIF to_regclass('uploads') IS NOT NULL THEN TRUNCATE uploads; END IF;
       END \$\$"
}

# row ID MEASURE FIGURE TARGET: one line of the table.
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$rows"; }

# Thousands separators: 12345.6 → 12,346.
num() { printf '%.0f' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

# wait_for_zero SQL TIMEOUT WHAT PID...: polls until SQL answers 0, checking the processes stay up.
wait_for_zero() {
  local query=$1 timeout=$2 what=$3; shift 3
  local deadline=$((SECONDS + timeout)) left
  while :; do
    left=$(sql "$query")
    [ "$left" = 0 ] && return 0
    check_alive "$@"
    [ $SECONDS -lt $deadline ] || fail "$what: still $left left after ${timeout}s"
    sleep 0.2
  done
}

# wait_ready PORT PID: polls /ready for up to 60 s.
wait_ready() { wait_http "http://127.0.0.1:$1/ready" "$2" 60; }

# run_wrk NAME LOG WRK_ARGS...: runs wrk and sets wrk_requests, wrk_rps, wrk_p99 (ms);
# fails when more than 1% of the requests got an error or a non-2xx answer.
run_wrk() {
  local name=$1 logf=$2; shift 2
  local rc=0
  wrk "$@" >"$logf" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { cat "$logf" >&2; fail "$name: wrk exited with status $rc"; }
  # wrk reports an error in its Lua script and then runs anyway: treat it as a failure.
  if grep -q '\.lua:' "$logf"; then cat "$logf" >&2; fail "$name: wrk's Lua script failed"; fi
  local bad
  read -r wrk_requests wrk_rps wrk_p99 bad < <(py wrk "$logf") || { cat "$logf" >&2; fail "$name: cannot read wrk's output"; }
  [ "$wrk_requests" -gt 0 ] || { cat "$logf" >&2; fail "$name: wrk completed no request"; }
  if [ $((bad * 100)) -gt "$wrk_requests" ]; then
    cat "$logf" >&2
    fail "$name: $bad of $wrk_requests requests failed or got a non-2xx answer (more than 1%)"
  fi
  log "$name: $wrk_requests requests, $(num "$wrk_rps") req/s, p99 $wrk_p99 ms, $bad errors"
}

# ---------------------------------------------------------------------------
# The API process that steps 3, 3b, 4, 7, 8 and 9 share (workers off).

api_port=
api_pid=
token=

# api_start [NAME]: starts `scribe api` (logs in $logs/NAME.log and NAME.time, "api"
# by default) and registers a user; sets api_port, api_pid and token. The
# files-in-flight cap is on, as in production, but far above what one bench
# person uploads (BENCH_MAX_FILES_IN_FLIGHT, default 10,000,000): its cost is
# measured, its refusals are not.
api_start() {
  local name=${1:-api}
  api_port=$(free_port)
  local secret
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  log "starting scribe api on 127.0.0.1:$api_port"
  start_proc "$name" "$logs/$name.log" "$logs/$name.time" \
    JWT_SECRET="$secret" PORT="$api_port" HOST=127.0.0.1 BCRYPT_COST=4 MAX_FILES_IN_FLIGHT="${BENCH_MAX_FILES_IN_FLIGHT:-10000000}" "$scribe" api
  api_pid=$started_pid
  wait_ready "$api_port" "$api_pid"
  local email="bench-$RANDOM$RANDOM@example.com"
  token=$(api_call POST /v1/auth/register "{\"email\": \"$email\", \"password\": \"bench-password-1234\"}" | py json-get access_token)
}

# api_call METHOD PATH [JSON]: prints the answer; fails on a non-2xx status.
api_call() {
  local method=$1 path=$2 body=${3:-} args=(-sS --fail-with-body -X "$1" -H 'Content-Type: application/json')
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(--data "$body")
  local answer rc=0
  answer=$(curl "${args[@]}" "http://127.0.0.1:$api_port$path") || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "$answer" >&2
    check_alive "$api_pid"
    fail "$method $path failed (curl status $rc)"
  fi
  printf '%s\n' "$answer"
}
