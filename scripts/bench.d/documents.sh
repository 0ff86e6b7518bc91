# shellcheck shell=bash
# Part of scripts/bench, which sources it after scripts/lib.sh (start_proc,
# stop_procs, check_alive, fail) and bench.d/common.sh (sql, row, num,
# api_start, clear_queue, wait_for_zero) and bench.d/queue.sh (burn_down), and
# sets quick, helpers, logs, work, rows, pgport, scribe and the exported
# environment (start_stack).

# 11. Long documents: a scanned PDF read page by page across engines, workers
# and a network hop, beside OCRmyPDF; a worker's memory on a 1000-page file;
# another user's photo while a long scan is read.

docs() { python3 "$helpers/documents.py" "$@"; }

# start_workers COUNT NAME [VAR=value...]: COUNT `scribe worker`s, each under
# /usr/bin/time ($logs/NAME-i.time), and waits until every one LISTENs (its
# engines loaded), so a reading measures the reading and not a start-up.
# Sets worker_pids.
worker_pids=()
start_workers() {
  local count=$1 name=$2 i; shift 2
  worker_pids=()
  local before
  before=$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = 'scribe_bench' AND query ILIKE 'LISTEN%scribe_jobs%'")
  for i in $(seq 1 "$count"); do
    start_proc "$name worker $i" "$logs/$name-$i.log" "$logs/$name-$i.time" WORKER_SHUTDOWN_GRACE_SECONDS=1 "$@" "$scribe" worker
    worker_pids+=("$started_pid")
  done
  local deadline=$((SECONDS + 60))
  until [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = 'scribe_bench' AND query ILIKE 'LISTEN%scribe_jobs%'")" -ge $((before + count)) ]; do
    check_alive "${worker_pids[@]}"
    [ $SECONDS -lt $deadline ] || fail "$name: the workers did not LISTEN within 60 s"
    sleep 0.2
  done
}

# read_document NAME PDF PAGES: uploads PDF to the bench user's conversation and
# waits until it is read and answered. Sets doc_seconds (upload → answer),
# doc_message and doc_pages_per_minute (the page jobs' own span).
read_document() {
  local name=$1 pdf=$2 pages=$3 started answer code
  started=$(date +%s.%N)
  code=$(curl -sS -o "$work/$name.json" -w '%{http_code}' --max-time 600 -H "Authorization: Bearer $token" \
    -F "conversation_id=$docs_conversation" -F "file=@$pdf;type=application/pdf" "http://127.0.0.1:$api_port/v1/chat/file")
  [ "$code" = 202 ] || fail "$name: the upload answered $code: $(head -c 300 "$work/$name.json")"
  doc_message=$(py json-get message_id <"$work/$name.json")
  answer=$(docs wait-read "http://127.0.0.1:$api_port" "$token" "$doc_message" "$pages" 3600) || fail "$name: the document was not read"
  doc_seconds=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
  doc_pages_per_minute=$(sql "SELECT round((count(*) * 60 / extract(epoch FROM max(finished_at) - min(started_at)))::numeric, 1)
                              FROM jobs WHERE kind = 'ocr_page' AND (args->>'message_id')::uuid = '$doc_message'")
  log "$name: $pages pages read in $doc_seconds s upload → answer ($doc_pages_per_minute pages/min; pages read, warnings, status: $answer)"
}

# ocrmypdf_read JOBS PDF: OCRmyPDF on the same file and languages, text to a
# sidecar file, no PDF/A conversion or optimisation (the cheapest it runs).
# Sets ocrmypdf_seconds.
ocrmypdf_read() {
  local jobs=$1 pdf=$2 started rc=0
  started=$(date +%s.%N)
  ocrmypdf --jobs "$jobs" -l eng+rus --output-type pdf --optimize 0 --sidecar "$work/ocrmypdf-$jobs.txt" \
    "$pdf" "$work/ocrmypdf-$jobs.pdf" >"$logs/ocrmypdf-$jobs.log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { tail -n 20 "$logs/ocrmypdf-$jobs.log" >&2; fail "ocrmypdf --jobs $jobs exited with status $rc"; }
  ocrmypdf_seconds=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
  log "ocrmypdf --jobs $jobs: $ocrmypdf_seconds s"
}

# max_rss NAME COUNT: the largest peak RSS (MB) of workers NAME-1..COUNT.
max_rss() {
  local name=$1 count=$2 i mb peak=0
  for i in $(seq 1 "$count"); do
    mb=$(py rss "$logs/$name-$i.time")
    [ "$mb" -gt "$peak" ] && peak=$mb
  done
  echo "$peak"
}

docs_conversation=
long_documents() {
  local pages big_pages fair_pages tries
  if [ $quick -eq 1 ]; then pages=4 big_pages=20 fair_pages=16 tries=2; else pages=100 big_pages=1000 fair_pages=300 tries=20; fi
  log "11 long documents: generating a $pages-page, a $fair_pages-page and a $big_pages-page 150 ppi scan"
  docs scan "$work/scan.pdf" "$pages" 48 color
  docs scan "$work/scan-fair.pdf" "$fair_pages" 48 color
  # 1000 dense colour pages would pass UPLOAD_MAX_FILE_BYTES; these are grey and
  # short (6 lines), the same pixels per page for a fraction of the reading.
  docs scan "$work/scan-big.pdf" "$big_pages" 6 gray
  local mb
  mb=$(python3 -c "import os; print(f'{os.path.getsize(\"$work/scan.pdf\") / 1e6:.1f}')")
  clear_queue
  api_start api-documents
  docs_conversation=$(api_call POST /v1/conversations '{"title": "bench long documents"}' | py json-get id)

  # 11a–c: one worker with one engine, one with two, two with one each.
  local config workers engines label
  declare -A seconds=() per_minute=()
  for config in 1x1 1x2 2x1; do
    workers=${config%x*} engines=${config#*x}
    start_workers "$workers" "pages-$config" OCR_ENGINES="$engines"
    read_document "11 $config" "$work/scan.pdf" "$pages"
    check_alive "${worker_pids[@]}"
    stop_procs "${worker_pids[@]}"
    seconds[$config]=$doc_seconds per_minute[$config]=$doc_pages_per_minute
    clear_queue
  done
  row 11a "$pages-page 150 ppi scan ($mb MB), 1 worker × 1 engine" "${seconds[1x1]} s upload → answer (${per_minute[1x1]} pages/min)" "report, beside ocrmypdf --jobs 1"
  row 11b "the same, 1 worker × 2 engines" "${seconds[1x2]} s (${per_minute[1x2]} pages/min)" "≈ half of 11a"
  row 11c "the same, 2 workers × 1 engine" "${seconds[2x1]} s (${per_minute[2x1]} pages/min)" "≈ 11b: the second process reads too"

  # 11d: OCRmyPDF on the same file (a full run only: it is not a Scribe package).
  if [ $quick -eq 1 ]; then
    row 11d "ocrmypdf on the same file" "skipped in --quick" "report"
  else
    install_packages ocrmypdf
    ocrmypdf_read 1 "$work/scan.pdf"; local one=$ocrmypdf_seconds
    ocrmypdf_read 2 "$work/scan.pdf"; local two=$ocrmypdf_seconds
    row 11d "ocrmypdf $(ocrmypdf --version 2>/dev/null) on the same file (-l eng+rus, sidecar text, no optimisation)" "--jobs 1: $one s; --jobs 2: $two s" "report"
  fi

  # 11e: the two workers of 11c behind a network hop. This kernel may have no
  # netem (tc qdisc add … netem delay 1ms answers "unknown qdisc"), so the
  # hop is a userspace proxy that holds each chunk 1 ms each way; the same
  # proxy at 0 ms separates its own cost from the latency's.
  local delay
  declare -A hop_seconds=()
  for delay in 0 1; do
    start_proxy "$delay"
    start_workers 2 "pages-hop-$delay" OCR_ENGINES=1 DATABASE_URL="postgres://postgres@127.0.0.1:$proxy_port/scribe_bench"
    read_document "11e hop $delay ms" "$work/scan.pdf" "$pages"
    check_alive "${worker_pids[@]}" "$proxy_pid"
    stop_procs "${worker_pids[@]}" "$proxy_pid"
    hop_seconds[$delay]=$doc_seconds
    clear_queue
  done
  row 11e "the same, 2 workers × 1 engine, Postgres 1 ms away each way (userspace proxy)" "${hop_seconds[1]} s (proxy at 0 ms: ${hop_seconds[0]} s; loopback, 11c: ${seconds[2x1]} s)" "≈ 11c"
  # Rows 1c and 1d: the queue's burn-down (1b) through the same hop.
  for delay in 0 1; do
    start_proxy "$delay"
    burn_down "$([ "$delay" = 0 ] && echo c || echo d)" 2 "Postgres behind a proxy holding each chunk $delay ms each way" \
      DATABASE_URL="postgres://postgres@127.0.0.1:$proxy_port/scribe_bench"
    stop_procs "$proxy_pid"
  done

  # 11f: a worker's memory over a 1000-page file (the default: 2 engines).
  start_workers 1 "pages-big" OCR_ENGINES=2
  read_document "11f $big_pages pages" "$work/scan-big.pdf" "$big_pages"
  local big_seconds=$doc_seconds big_mb
  big_mb=$(python3 -c "import os; print(f'{os.path.getsize(\"$work/scan-big.pdf\") / 1e6:.0f}')")
  check_alive "${worker_pids[@]}"
  stop_procs "${worker_pids[@]}"
  row 11f "worker peak RSS reading a $big_pages-page scan ($big_mb MB, grey, 6 lines a page), 2 engines" "$(max_rss pages-big 1) MB ($big_seconds s upload → answer)" "≤ 150 MB + 80 MB per engine = 310 MB"
  clear_queue

  # 11g: another user's 1-page photo while a long scan is read (2 engines).
  local lone_token lone_conv p50 p99 slowest page_time count
  lone_token=$(api_call POST /v1/auth/register "{\"email\": \"photo-$RANDOM$RANDOM@example.com\", \"password\": \"bench-password-1234\"}" | py json-get access_token)
  lone_conv=$(curl -sS --fail-with-body -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $lone_token" \
    --data '{"title": "one photo"}' "http://127.0.0.1:$api_port/v1/conversations" | py json-get id)
  start_workers 1 "pages-fair" OCR_ENGINES=2
  local code
  code=$(curl -sS -o "$work/fair.json" -w '%{http_code}' --max-time 600 -H "Authorization: Bearer $token" \
    -F "conversation_id=$docs_conversation" -F "file=@$work/scan-fair.pdf;type=application/pdf" "http://127.0.0.1:$api_port/v1/chat/file")
  [ "$code" = 202 ] || fail "11g: the upload answered $code: $(head -c 300 "$work/fair.json")"
  log "11g: $tries photos of another user while the $fair_pages-page scan is read"
  read -r p50 p99 slowest page_time count < <(docs page-fairness "http://127.0.0.1:$api_port" "$token" "$(py json-get message_id <"$work/fair.json")" \
    "$lone_token" "$lone_conv" Tests/Fixtures/ocr/invoice_en_photo.jpg "$tries" \
    psql -h 127.0.0.1 -p "$pgport" -U postgres -d scribe_bench -qtAX) || fail "11g: the harness failed"
  check_alive "${worker_pids[@]}"
  stop_procs "${worker_pids[@]}"
  local in_pages
  in_pages=$(python3 -c "print(f'{$p99 / $page_time:.1f}')")
  log "11g: photo upload → answer p50 $p50 s, p99 $p99 s, slowest $slowest s; a page of the scan took $page_time s"
  row 11g "another user's photo while a $fair_pages-page scan is read (1 worker × 2 engines)" "upload → answer p50 $p50 s, p99 $p99 s = $in_pages page-times (a page: $page_time s; $count photos)" "p99 ≤ 3 page-times"
  clear_queue
  stop_procs "$api_pid"
  sql "DELETE FROM conversations WHERE id = '$docs_conversation'"
  sql "CHECKPOINT"
}

# start_proxy DELAY_MS: documents.py's latency proxy in front of Postgres; sets
# proxy_port and proxy_pid.
proxy_port=
proxy_pid=
start_proxy() {
  proxy_port=$(free_port)
  start_proc "proxy ($1 ms)" "$logs/proxy-$1.log" "" python3 "$helpers/documents.py" proxy "$proxy_port" "$pgport" "$1"
  proxy_pid=$started_pid
  wait_port "$proxy_port" "$proxy_pid"
}

# wait_port PORT PID: until something accepts on 127.0.0.1:PORT (10 s).
wait_port() {
  local port=$1 pid=$2 deadline=$((SECONDS + 10))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    check_alive "$pid"
    [ $SECONDS -lt $deadline ] || fail "nothing listens on 127.0.0.1:$port after 10 s"
    sleep 0.1
  done
}
