# shellcheck shell=bash
# Part of scripts/bench, which sources it after scripts/lib.sh (start_proc,
# stop_procs, check_alive, fail, start_fake_llm) and bench.d/common.sh (sql,
# row, num, run_wrk, api_call), and sets quick, helpers, logs, work, rows,
# pgport, scribe and the exported environment (start_stack).

# 1. Queue burn-down: N no-op jobs inserted at once, drained by fresh workers.

worker_rss_mb=0

# burn_down ID WORKERS [NOTE [VAR=value...]]: row 1ID; NOTE says how this run
# differs (for example the proxy its workers reach Postgres through), and the
# VAR=value words go into each worker's environment.
burn_down() {
  local id=$1 workers=$2 note=${3:-} n timeout i pids=() timef
  local extra_env=("${@:4}")
  if [ $quick -eq 1 ]; then n=2000 timeout=60; else n=100000 timeout=600; fi
  log "1$id burn-down: $n no-op jobs, $workers worker process(es)${note:+, $note}"
  sql "DELETE FROM jobs WHERE kind = 'noop'"
  sql "VACUUM jobs"
  sql "INSERT INTO jobs (id, kind) SELECT gen_random_uuid(), 'noop' FROM generate_series(1, $n)"
  for i in $(seq 1 "$workers"); do
    timef=$logs/burn-$id-worker-$i.time
    local metrics_env=()
    # BENCH_WORKER_METRICS=1: the workers record and serve metrics (METRICS_PORT), to measure what that costs.
    [ "${BENCH_WORKER_METRICS:-0}" = 1 ] && metrics_env=(METRICS_PORT="$(free_port)")
    start_proc "burn-down worker $id$i" "$logs/burn-$id-worker-$i.log" "$timef" \
      WORKER_CONCURRENCY=256 OCR_ENGINES=1 WORKER_POLL_INTERVAL_MS=100 "${metrics_env[@]}" "${extra_env[@]}" "$scribe" worker
    pids+=("$started_pid")
  done
  wait_for_zero "SELECT count(*) FROM jobs WHERE kind = 'noop' AND state <> 'succeeded'" "$timeout" "burn-down" "${pids[@]}"
  local failed rate seconds
  failed=$(sql "SELECT count(*) FROM jobs WHERE kind = 'noop' AND state = 'failed'")
  [ "$failed" = 0 ] || fail "burn-down: $failed jobs failed"
  read -r rate seconds < <(sql "SELECT round(($n / extract(epoch from max(finished_at) - min(started_at)))::numeric, 1),
                                       round(extract(epoch from max(finished_at) - min(started_at))::numeric, 2)
                                FROM jobs WHERE kind = 'noop'" | tr '|' ' ')
  stop_procs "${pids[@]}"
  local mb
  for i in $(seq 1 "$workers"); do
    mb=$(py rss "$logs/burn-$id-worker-$i.time")
    if [ "$mb" -gt "$worker_rss_mb" ]; then worker_rss_mb=$mb; fi
  done
  local label="1$id" measure
  if [ "$workers" -eq 1 ]; then measure="burn-down, 1 worker"; else measure="burn-down, $workers workers"; fi
  [ -n "$note" ] && measure="$measure, $note"
  log "$label $measure: $(num "$rate") jobs/s ($n jobs in $seconds s)"
  row "$label" "$measure" "$(num "$rate") jobs/s ($(num "$n") jobs in $seconds s)" "≥ 10,000 jobs/s"
  sql "DELETE FROM jobs WHERE kind = 'noop'"
  sql "VACUUM jobs"
}

# ---------------------------------------------------------------------------
# 2. Wake-up latency: jobs inserted at a fixed rate with NOTIFY; how long until
# an idle worker starts each one.

wake_up() {
  local rate duration pids=() i
  if [ $quick -eq 1 ]; then rate=50 duration=3; else rate=200 duration=20; fi
  log "2 wake-up latency: $rate jobs/s for $duration s, 2 idle workers"
  sql "DELETE FROM jobs"
  for i in 1 2; do
    start_proc "wake-up worker $i" "$logs/wakeup-worker-$i.log" "" "$scribe" worker
    pids+=("$started_pid")
  done
  # Wait until both workers LISTEN, so the first jobs measure a wake-up, not a start-up.
  local deadline=$((SECONDS + 30))
  until [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = 'scribe_bench' AND query ILIKE 'LISTEN%scribe_jobs%'")" -ge 2 ]; do
    check_alive "${pids[@]}"
    [ $SECONDS -lt $deadline ] || fail "wake-up: the workers did not LISTEN within 30 s"
    sleep 0.2
  done
  sleep 1
  local rc=0
  "$(pg_bin)/pgbench" -n -c 1 -R "$rate" -T "$duration" -f "$helpers/wakeup.sql" \
    -h 127.0.0.1 -p "$pgport" -U postgres scribe_bench >"$logs/wakeup-pgbench.log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { cat "$logs/wakeup-pgbench.log" >&2; fail "wake-up: pgbench exited with status $rc"; }
  wait_for_zero "SELECT count(*) FROM jobs WHERE state <> 'succeeded'" 60 "wake-up" "${pids[@]}"
  check_alive "${pids[@]}"
  local n p50 p99
  read -r n p50 p99 < <(sql "SELECT count(*),
      round((1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch from started_at - created_at)))::numeric, 2),
      round((1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch from started_at - created_at)))::numeric, 2)
    FROM jobs WHERE kind = 'noop'" | tr '|' ' ')
  [ "$n" -gt 0 ] || fail "wake-up: pgbench inserted no job"
  stop_procs "${pids[@]}"
  log "2 wake-up latency: p50 $p50 ms, p99 $p99 ms over $n jobs"
  row 2 "wake-up latency" "p50 $p50 ms, p99 $p99 ms ($(num "$n") jobs at $rate/s)" "p50 ≤ 5 ms, p99 ≤ 25 ms"
  sql "DELETE FROM jobs"
}
