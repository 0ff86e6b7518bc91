# shellcheck shell=bash
# Part of scripts/bench, which sources it after scripts/lib.sh (start_proc,
# stop_procs, check_alive, fail, start_fake_llm) and bench.d/common.sh (sql,
# row, num, run_wrk, api_call), and sets quick, helpers, logs, work, rows,
# pgport, scribe and the exported environment (start_stack).

# 3. Uploads (the API alone), 3b. beside a busy worker, 3d. one busy person
# against many people, 7. fair turns.

upload() {
  local connections duration boundary="ScribeBenchBoundary7d3f2a9c"
  if [ $quick -eq 1 ]; then connections=10 duration=3s; else connections=100 duration=20s; fi
  local conversation
  conversation=$(api_call POST /v1/conversations '{"title": "bench uploads"}' | py json-get id)
  py png "$work/bench.png"
  py multipart "$work/upload.body" "$boundary" "$conversation" "$work/bench.png"
  local kb=$(( $(stat -c %s "$work/bench.png") / 1024 ))
  log "3 upload: ${kb} KB PNG, wrk -t2 -c$connections -d$duration"
  BENCH_BODY_FILE="$work/upload.body" BENCH_BOUNDARY="$boundary" BENCH_TOKEN="$token" \
    run_wrk "upload" "$logs/wrk-upload.log" -t2 -c"$connections" -d"$duration" --latency \
    -s "$helpers/upload.lua" "http://127.0.0.1:$api_port/v1/chat/file"
  check_alive "$api_pid"
  row 3 "upload" "$(num "$wrk_rps") req/s, p99 $wrk_p99 ms (${kb} KB PNG, $connections connections)" "p99 ≤ 20 ms, report req/s"
  # Leave nothing behind for the next step to pay for: the uploads' rows, and the
  # ~1 GB of WAL they wrote, flushed by a checkpoint now rather than during step 4.
  clear_queue
  sql "DELETE FROM conversations WHERE id = '$conversation'"
  sql "CHECKPOINT"
}

# 3b. Uploads beside a worker that OCRs the backlog they make, on the same cores:
# the worker's OCR threads at nice 0 (as before issue 10) and at the default OCR_NICE.
upload_beside_ocr() {
  local connections duration boundary="ScribeBenchBoundary7d3f2a9c" nice worker_pid
  if [ $quick -eq 1 ]; then connections=10 duration=3s; else connections=100 duration=20s; fi
  local conversation
  conversation=$(api_call POST /v1/conversations '{"title": "bench uploads beside OCR"}' | py json-get id)
  # A real page with text, so the worker has OCR to do: the A4 letter at 450 dpi (~140 KB).
  pdftoppm -r 450 -gray -png -singlefile Tests/Fixtures/ocr/letter_ru_text.pdf "$work/page" \
    || fail "3b: pdftoppm could not render the page"
  py multipart "$work/page.body" "$boundary" "$conversation" "$work/page.png"
  local kb=$(( $(stat -c %s "$work/page.png") / 1024 ))
  # Alternate the two settings (twice each in a full run), so neither gains from
  # going first: every run leaves the database bigger than it found it.
  local order=(0 10) run=0 p99s_0=() p99s_10=() rps_0=() rps_10=()
  [ $quick -eq 1 ] || order=(0 10 0 10)
  for nice in "${order[@]}"; do
    run=$((run + 1))
    # Each run starts from the same state: no jobs, and the WAL of the last one flushed.
    clear_queue
    sql "CHECKPOINT"
    start_proc "worker (OCR_NICE=$nice)" "$logs/worker-beside-$run.log" "" \
      OCR_NICE=$nice WORKER_SHUTDOWN_GRACE_SECONDS=1 "$scribe" worker
    worker_pid=$started_pid
    log "3b upload beside a busy worker (run $run, OCR_NICE=$nice): ${kb} KB page, wrk -t2 -c$connections -d$duration"
    BENCH_BODY_FILE="$work/page.body" BENCH_BOUNDARY="$boundary" BENCH_TOKEN="$token" \
      run_wrk "upload beside OCR (nice $nice)" "$logs/wrk-upload-beside-$run.log" -t2 -c"$connections" -d"$duration" --latency \
      -s "$helpers/upload.lua" "http://127.0.0.1:$api_port/v1/chat/file"
    check_alive "$api_pid" "$worker_pid"
    if [ "$nice" = 0 ]; then p99s_0+=("$wrk_p99"); rps_0+=("$(num "$wrk_rps")"); else p99s_10+=("$wrk_p99"); rps_10+=("$(num "$wrk_rps")"); fi
    log "3b: the worker finished $(sql "SELECT count(*) FROM jobs WHERE state = 'succeeded'") files meanwhile"
    stop_procs "$worker_pid"
  done
  clear_queue
  local p99_10 p99_0 rps10 rps0
  p99_10=$(IFS=/; echo "${p99s_10[*]}"); p99_0=$(IFS=/; echo "${p99s_0[*]}")
  rps10=$(IFS=/; echo "${rps_10[*]}"); rps0=$(IFS=/; echo "${rps_0[*]}")
  row 3b "upload beside a worker OCRing the backlog" "p99 $p99_10 ms ($rps10 req/s) with OCR threads at nice 10; p99 $p99_0 ms ($rps0 req/s) at nice 0 (${kb} KB page, $connections connections, runs alternated)" "report p99 (was 509 ms)"
  sql "DELETE FROM conversations WHERE id = '$conversation'"
  sql "CHECKPOINT"
}

# 3d. One busy person (a bot, or the page sending many files at once) against
# 100 people uploading once each: the same 140 KB page on 100 connections, beside
# a worker OCRing the backlog at its default OCR_NICE. The two alternate (twice
# each in a full run). One person's uploads must not queue behind each other.
upload_people() {
  local connections duration people boundary="ScribeBenchBoundary7d3f2a9c" worker_pid
  if [ $quick -eq 1 ]; then connections=10 duration=3s people=10; else connections=100 duration=20s people=100; fi
  local conversation accounts=$work/accounts.txt
  conversation=$(api_call POST /v1/conversations '{"title": "bench one busy person"}' | py json-get id)
  pdftoppm -r 450 -gray -png -singlefile Tests/Fixtures/ocr/letter_ru_text.pdf "$work/page" \
    || fail "3d: pdftoppm could not render the page"
  py multipart "$work/people.body" "$boundary" "$conversation" "$work/page.png"
  local kb=$(( $(stat -c %s "$work/page.png") / 1024 ))
  : >"$accounts"
  local i person_token person_conversation
  for i in $(seq 1 "$people"); do
    person_token=$(api_call POST /v1/auth/register "{\"email\": \"person-$i-$RANDOM$RANDOM@example.com\", \"password\": \"bench-password-1234\"}" | py json-get access_token)
    person_conversation=$(token=$person_token api_call POST /v1/conversations '{"title": "bench person"}' | py json-get id)
    echo "$person_token $person_conversation" >>"$accounts"
  done
  local order=(one many) run=0 one_rps=() one_p99=() many_rps=() many_p99=() who
  [ $quick -eq 1 ] || order=(one many one many)
  for who in "${order[@]}"; do
    run=$((run + 1))
    clear_queue
    sql "CHECKPOINT"
    start_proc "worker (3d run $run)" "$logs/worker-people-$run.log" "" WORKER_SHUTDOWN_GRACE_SECONDS=1 "$scribe" worker
    worker_pid=$started_pid
    log "3d upload beside OCR, $([ "$who" = one ] && echo "one person" || echo "$people people") on $connections connections (run $run): ${kb} KB page, $duration"
    BENCH_BODY_FILE="$work/people.body" BENCH_BOUNDARY="$boundary" BENCH_TOKEN="$token" BENCH_CONVERSATION="$conversation" \
      BENCH_ACCOUNTS="$([ "$who" = many ] && echo "$accounts")" \
      run_wrk "upload, $who" "$logs/wrk-people-$run.log" -t2 -c"$connections" -d"$duration" --latency \
      -s "$helpers/upload.lua" "http://127.0.0.1:$api_port/v1/chat/file"
    check_alive "$api_pid" "$worker_pid"
    if [ "$who" = one ]; then one_rps+=("$(num "$wrk_rps")"); one_p99+=("$wrk_p99"); else many_rps+=("$(num "$wrk_rps")"); many_p99+=("$wrk_p99"); fi
    stop_procs "$worker_pid"
  done
  clear_queue
  row 3d "upload beside OCR: $people people once each / one person" \
    "$people people: $(IFS=/; echo "${many_rps[*]}") req/s, p99 $(IFS=/; echo "${many_p99[*]}") ms; one person: $(IFS=/; echo "${one_rps[*]}") req/s, p99 $(IFS=/; echo "${one_p99[*]}") ms (${kb} KB page, $connections connections, runs alternated)" \
    "≥ 600 req/s, p99 ≤ 150 ms; one person within 20 %"
  sql "DELETE FROM conversations WHERE id = '$conversation'"
  sql "DELETE FROM users WHERE email LIKE 'person-%@example.com'"
  sql "CHECKPOINT"
}

# 7. Fair turns: how long a lone user's upload takes (upload → done) while another
# user keeps BACKLOG files queued in front of one worker.
fairness() {
  local backlog tries worker_pid
  if [ $quick -eq 1 ]; then backlog=30 tries=3; else backlog=1000 tries=20; fi
  local busy_conv lone_token lone_conv
  busy_conv=$(api_call POST /v1/conversations '{"title": "bench backlog"}' | py json-get id)
  lone_token=$(api_call POST /v1/auth/register "{\"email\": \"lone-$RANDOM$RANDOM@example.com\", \"password\": \"bench-password-1234\"}" | py json-get access_token)
  lone_conv=$(curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $lone_token" \
    --data '{"title": "one file"}' "http://127.0.0.1:$api_port/v1/conversations" | py json-get id)
  start_proc "worker (fairness)" "$logs/worker-fairness.log" "" WORKER_SHUTDOWN_GRACE_SECONDS=1 "$scribe" worker
  worker_pid=$started_pid
  log "7 fairness: a lone user's upload while another keeps $backlog files queued, $tries tries"
  local p50 p99 max
  read -r p50 p99 max < <(py fairness "http://127.0.0.1:$api_port" "$token" "$busy_conv" "$lone_token" "$lone_conv" \
    Tests/Fixtures/ocr/mixed_lowres.png "$backlog" "$tries" \
    psql -h 127.0.0.1 -p "$pgport" -U postgres -d scribe_bench -qtAX) || fail "7 fairness: the harness failed"
  check_alive "$api_pid" "$worker_pid"
  stop_procs "$worker_pid"
  log "7 fairness: p50 ${p50} s, p99 ${p99} s, slowest ${max} s"
  row 7 "fairness: a lone user's upload → done" "p50 ${p50} s, p99 ${p99} s ($tries tries while another user kept $backlog files queued; 1 worker)" "a few seconds, not the backlog's drain time"
  clear_queue
}

# 3c. Big files: CLIENTS people each upload a SIZE file at once, and the API's
# peak RSS while they stream in. Each file goes into the database in 1 MiB
# chunks as it arrives, so memory should not grow with the files' sizes.
big_uploads() {
  local size clients=8 conversation pid peak=0 rss started seconds accepted=0 code
  if [ $quick -eq 1 ]; then size=$((8 << 20)); else size=$((200 << 20)); fi
  conversation=$(api_call POST /v1/conversations '{"title": "bench big uploads"}' | py json-get id)
  # A PDF by its header (the API sniffs only the head), random bytes after it; no worker reads it.
  { printf '%%PDF-1.4\n'; head -c "$size" /dev/urandom; } >"$work/big.pdf"
  local mb=$((size >> 20))
  log "3c big uploads: $clients clients each upload a $mb MB file at once"
  pid=$(signal_target "$api_pid")
  local before
  before=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
  started=$(date +%s.%N)
  local pids=()
  for i in $(seq 1 "$clients"); do
    curl -sS -o "$work/big-$i.json" -w '%{http_code}' --max-time 600 -H "Authorization: Bearer $token" \
      -F "conversation_id=$conversation" -F "file=@$work/big.pdf;type=application/pdf" \
      "http://127.0.0.1:$api_port/v1/chat/file" >"$work/big-$i.code" &
    pids+=($!)
  done
  while kill -0 "${pids[@]}" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
    [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.1
  done
  wait "${pids[@]}" || true
  seconds=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
  for i in $(seq 1 "$clients"); do
    code=$(cat "$work/big-$i.code")
    if [ "$code" = 202 ]; then accepted=$((accepted + 1)); else log "3c: upload $i answered $code: $(head -c 300 "$work/big-$i.json")"; fi
  done
  check_alive "$api_pid"
  log "3c big uploads: $accepted of $clients accepted in $seconds s; api RSS $before → peak $peak MB"
  row 3c "$clients people upload a $mb MB file each at once" "api RSS $before → peak $peak MB; $accepted of $clients accepted (202) in $seconds s" "≤ 250 MB"
  rm -f "$work/big.pdf"
  clear_queue
  sql "DELETE FROM conversations WHERE id = '$conversation'"
  sql "CHECKPOINT"
}
