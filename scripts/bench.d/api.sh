# shellcheck shell=bash
# Part of scripts/bench, which sources it after scripts/lib.sh (start_proc,
# stop_procs, check_alive, fail, start_fake_llm) and bench.d/common.sh (sql,
# row, num, run_wrk, api_call), and sets quick, helpers, logs, work, rows,
# pgport, scribe and the exported environment (start_stack).

# api_benchmarks runs steps 3 to 10 around one API process (api_start).

# 4. History poll: a conversation's newest 50 messages, read again and again.
history_poll() {
  local connections duration i
  if [ $quick -eq 1 ]; then connections=16 duration=3s; else connections=256 duration=20s; fi
  local conversation
  conversation=$(api_call POST /v1/conversations '{"title": "bench history"}' | py json-get id)
  log "4 history poll: filling a conversation with 60 messages"
  for i in $(seq 1 30); do
    api_call POST /v1/chat "{\"conversation_id\": \"$conversation\", \"text\": \"Message $i about the quarterly report: revenue grew by $i percent while costs stayed flat. What should we highlight?\"}" >/dev/null
  done
  local count
  count=$(sql "SELECT count(*) FROM messages WHERE conversation_id = '$conversation'")
  [ "$count" = 60 ] || fail "history poll: the conversation holds $count messages, not 60"
  log "4 history poll: wrk -t2 -c$connections -d$duration"
  run_wrk "history poll" "$logs/wrk-history.log" -t2 -c"$connections" -d"$duration" --latency \
    -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port/v1/conversations/$conversation/messages?limit=50"
  check_alive "$api_pid"
  row 4 "history poll" "$(num "$wrk_rps") req/s, p99 $wrk_p99 ms (50 of 60 messages, $connections connections)" "≥ 10,000 req/s, p99 ≤ 10 ms"
}

# 9. Live events: idle event streams on one API process, its memory, and how
# long a committed message takes to reach its stream; then the polling
# alternative (GET /v1/messages/{id} answered 304 Not Modified).
events_bench() {
  local sizes probes n connected before after p50 p99 pid
  if [ $quick -eq 1 ]; then sizes=(50) probes=10; else sizes=(1000 10000) probes=200; fi
  pid=$(signal_target "$api_pid")
  for n in "${sizes[@]}"; do
    log "9 events: $n idle streams on one API process, then $probes messages committed one at a time"
    read -r connected before after p50 p99 < <(py subscribers 127.0.0.1 "$api_port" "$token" "$n" "$probes" "$pid" \
      psql -h 127.0.0.1 -p "$pgport" -U postgres -d scribe_bench -qtAX) || fail "9 events: the harness failed"
    check_alive "$api_pid"
    [ "$connected" = "$n" ] || fail "9 events: only $connected of $n streams opened"
    log "9 events: $n streams: api RSS $before → $after MB; commit → event p50 $p50 ms, p99 $p99 ms"
    row "9-$n" "$n idle event streams on one API process" "RSS $before → $after MB; commit → event p50 $p50 ms, p99 $p99 ms ($probes messages)" "report"
    sql "DELETE FROM conversations WHERE title LIKE 'bench stream %'"
  done
  # The polling alternative: each client asks for its message again and again.
  local conversation message tag connections duration
  if [ $quick -eq 1 ]; then connections=10 duration=3s; else connections=100 duration=10s; fi
  conversation=$(api_call POST /v1/conversations '{"title": "bench polling"}' | py json-get id)
  message=$(api_call POST /v1/chat "{\"conversation_id\": \"$conversation\", \"text\": \"Poll this message.\"}" | py json-get user_message.id)
  tag=$(curl -sS -D - -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port/v1/messages/$message" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
  [ -n "$tag" ] || fail "9 polling: no ETag on GET /v1/messages/{id}"
  log "9 polling: wrk -t2 -c$connections -d$duration with If-None-Match (304)"
  run_wrk "polling" "$logs/wrk-polling.log" -t2 -c"$connections" -d"$duration" --latency \
    -H "Authorization: Bearer $token" -H "If-None-Match: $tag" "http://127.0.0.1:$api_port/v1/messages/$message"
  row 9p "polling one message instead (304 Not Modified)" "$(num "$wrk_rps") req/s, p99 $wrk_p99 ms ($connections connections): a poll every second by each of 1,000 clients costs $(python3 -c "print(f'{100000 / max($wrk_rps, 1):.0f}')") % of this API process; a change is seen 0.5 s later on average" "report"
  sql "DELETE FROM conversations WHERE id = '$conversation'"
}

api_benchmarks() {
  api_start
  if step upload; then upload; fi
  if step big-uploads; then big_uploads; fi
  if step upload-beside-ocr; then upload_beside_ocr; fi
  if step busy-person; then upload_people; fi
  if step fairness; then fairness; fi
  if step files; then files_through_stages; fi
  if step history; then history_poll; fi
  if step events; then events_bench; fi
  stop_procs "$api_pid"
  if step bots; then bots_bench; fi
  api_rss_mb=$(py rss "$logs/api.time")
}
