# shellcheck shell=bash
# Part of scripts/bench, which sources it after scripts/lib.sh (start_proc,
# stop_procs, check_alive, fail, start_fake_llm) and bench.d/common.sh (sql,
# row, num, run_wrk, api_call), and sets quick, helpers, logs, work, rows,
# pgport, scribe and the exported environment (start_stack).

# Steps against the fake OpenAI-compatible LLM (start_fake_llm, scripts/lib.sh).

# 8. Files through the stages: N single-page uploads answered by an LLM that
# takes LATENCY seconds, one worker with default settings, from the first
# upload to the last answer; and the worker's peak memory meanwhile.
# BENCH_FILES_ENV="VAR=value ..." adds settings to that worker (e.g. to give
# an older build 32 slots, for its memory with 32 LLM calls in flight).
files_through_stages() {
  local extra_env=()
  read -r -a extra_env <<<"${BENCH_FILES_ENV:-}"
  local latency sizes n worker_pid conversation seconds done failed most mb
  if [ $quick -eq 1 ]; then latency=0.2 sizes=(5); else latency=3 sizes=(30 300); fi
  start_fake_llm "$latency" "fake LLM" "$logs/fake-llm.log"
  for n in "${sizes[@]}"; do
    clear_queue
    sql "CHECKPOINT"
    conversation=$(api_call POST /v1/conversations "{\"title\": \"bench $n files\"}" | py json-get id)
    start_proc "worker ($n files)" "$logs/worker-files-$n.log" "$logs/worker-files-$n.time" \
      LLM_PROVIDER=openai LLM_BASE_URL="http://127.0.0.1:$llm_port/v1" LLM_MODEL=bench WORKER_SHUTDOWN_GRACE_SECONDS=1 \
      "${extra_env[@]}" "$scribe" worker
    worker_pid=$started_pid
    log "8 files: $n single-page uploads, LLM latency ${latency} s, 1 worker with default settings${BENCH_FILES_ENV:+ and $BENCH_FILES_ENV}"
    read -r seconds done failed < <(py files "http://127.0.0.1:$api_port" "$token" "$conversation" \
      Tests/Fixtures/ocr/invoice_en.png "$n") || fail "8 files: the harness failed"
    check_alive "$api_pid" "$worker_pid" "$llm_pid"
    [ "$failed" = 0 ] || fail "8 files: $failed of $n uploads failed"
    stop_procs "$worker_pid"
    mb=$(py rss "$logs/worker-files-$n.time")
    most=$(curl -sS "http://127.0.0.1:$llm_port/stats" | py json-get max_in_flight)
    log "8 files: $n answered in $seconds s; at most $most LLM calls at once; worker peak RSS $mb MB"
    row "8-$n" "$n single-page uploads → answered, LLM ${latency} s" "$seconds s ($(python3 -c "print(f'{$n / $seconds:.2f}')") files/s; up to $most LLM calls at once; worker peak RSS $mb MB)" "≤ 1.5× the floor, ≥ 5× before"
    sql "DELETE FROM conversations WHERE id = '$conversation'"
  done
  stop_procs "$llm_pid"
  clear_queue
}

# 10. Bots: POST /v1/chat/send from 50 bots at once, each a person sending
# its next message when the last is answered, against a fake LLM that
# answers at once; run with the daily limit on (counted) and off (nothing
# counted), alternately, to show what the limit check adds.
bots_bench() {
  local bots seconds key run limit pid answered refused p50 p99
  if [ $quick -eq 1 ]; then bots=5 seconds=3; else bots=50 seconds=15; fi
  start_fake_llm 0 "fake LLM (bots)" "$logs/fake-llm-bots.log"
  key=$("$scribe" keys create --name "bench-bots" 2>"$logs/keys.log" | tail -n 1)
  [ -n "$key" ] || { cat "$logs/keys.log" >&2; fail "10 bots: scribe keys create printed no key"; }
  for run in on off on off; do
    if [ "$run" = on ]; then limit=10000000; else limit=0; fi
    local port secret
    port=$(free_port)
    secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    start_proc "api (bots, limit $run)" "$logs/api-bots-$run.log" "" JWT_SECRET="$secret" PORT="$port" HOST=127.0.0.1 \
      LLM_PROVIDER=openai LLM_BASE_URL="http://127.0.0.1:$llm_port/v1" LLM_MODEL=bench DAILY_REQUEST_LIMIT_BOT="$limit" "$scribe" api
    pid=$started_pid
    wait_ready "$port" "$pid"
    log "10 bots: $bots bots for ${seconds}s, daily limit $run"
    read -r answered refused p50 p99 < <(py bots 127.0.0.1 "$port" "$key" "$bots" "$seconds") || fail "10 bots: the harness failed"
    check_alive "$pid" "$llm_pid"
    [ "$refused" = 0 ] || fail "10 bots: $refused requests were refused"
    stop_procs "$pid"
    log "10 bots: limit $run: $answered answered, p50 $p50 ms, p99 $p99 ms"
    row "10-$run" "POST /v1/chat/send, $bots bots at once, daily limit $run (fake LLM answers at once)" "p50 $p50 ms, p99 $p99 ms ($answered answers in ${seconds} s)" "limit check adds < 2 ms p99"
  done
  stop_procs "$llm_pid"

  # The check alone: pgbench runs, per person, a transaction that writes a row
  # with and without the charge statement, alternately, 50 clients each its own
  # person, at 300 transactions/s (above the bots' rate, below saturation, so
  # the latency is the work's and not a queue's).
  local clients duration rate script p50c p99c p50n p99n
  if [ $quick -eq 1 ]; then clients=5 duration=2 rate=50; else clients=50 duration=10 rate=300; fi
  sql "CREATE TABLE IF NOT EXISTS bench_people (n int PRIMARY KEY, id uuid NOT NULL)"
  sql "CREATE TABLE IF NOT EXISTS bench_writes (id bigserial PRIMARY KEY, person int NOT NULL)"
  sql "TRUNCATE bench_people; INSERT INTO bench_people SELECT row_number() OVER (ORDER BY id) - 1, id FROM users WHERE service = 'bench-bots' LIMIT $clients"
  [ "$(sql "SELECT count(*) FROM bench_people")" = "$clients" ] || fail "10 limit check: fewer than $clients bot people to charge"
  for script in charge charge-none charge charge-none; do
    rm -f "$work"/pgbench_log.*
    log "10 limit check: pgbench $script, $clients clients for ${duration}s"
    (cd "$work" && "$(pg_bin)/pgbench" -n -c "$clients" -j 2 -R "$rate" -T "$duration" -f "$OLDPWD/$helpers/$script.sql" --log \
      -h 127.0.0.1 -p "$pgport" -U postgres scribe_bench) >"$logs/pgbench-$script.log" 2>&1 || { cat "$logs/pgbench-$script.log" >&2; fail "10 limit check: pgbench failed"; }
    read -r p50 p99 < <(cat "$work"/pgbench_log.* | awk '{print $3 / 1000}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.5)+1], a[int(NR*0.99)+1]}')
    if [ "$script" = charge ]; then p50c=$p50 p99c=$p99; else p50n=$p50 p99n=$p99
      row "10c" "the limit check alone: a person's transaction with the charge vs without ($clients clients, $rate tx/s, pgbench)" "with: p50 $p50c ms, p99 $p99c ms; without: p50 $p50n ms, p99 $p99n ms; added p99 $(python3 -c "print(f'{$p99c - $p99n:.2f}')") ms" "< 2 ms p99"
    fi
  done
  sql "DROP TABLE bench_people; DROP TABLE bench_writes"
  sql "DELETE FROM users WHERE service = 'bench-bots'"
}
