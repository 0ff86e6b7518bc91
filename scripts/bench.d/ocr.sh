# shellcheck shell=bash
# Part of scripts/bench, which sources it after scripts/lib.sh (start_proc,
# stop_procs, check_alive, fail, start_fake_llm) and bench.d/common.sh (sql,
# row, num, run_wrk, api_call), and sets quick, helpers, logs, work, rows,
# pgport, scribe and the exported environment (start_stack).

# 5. OCR throughput: Scribe's pooled engines against the tesseract CLI.

ocr_rss_mb=
ocr() {
  local repeat files=() f
  if [ $quick -eq 1 ]; then repeat=1; else repeat=20; fi
  for f in Tests/Fixtures/ocr/*.png Tests/Fixtures/ocr/*.jpg Tests/Fixtures/ocr/*.jpeg; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || fail "OCR: no image fixtures in Tests/Fixtures/ocr"
  if ! "$scribe" ocr-bench --help >/dev/null 2>&1; then
    log "5 OCR: skipped: ocr-bench missing"
    row 5 "OCR, Scribe engines" "skipped: ocr-bench missing" "≥ 1.5× the CLI's pages/s"
    row 5b "OCR text identical to the CLI" "skipped: ocr-bench missing" "text identical"
    ocr_rss_mb=skipped
    return 0
  fi
  local pages=$(( ${#files[@]} * repeat ))
  log "5 OCR: ${#files[@]} images × $repeat with scribe ocr-bench (2 engines)"
  mkdir -p "$work/ocr-scribe" "$work/ocr-cli"
  local rc=0
  /usr/bin/time -v -o "$logs/ocr-bench.time" \
    "$scribe" ocr-bench --repeat "$repeat" --engines 2 --out "$work/ocr-scribe" "${files[@]}" \
    >"$logs/ocr-bench.json" 2>"$logs/ocr-bench.log" || rc=$?
  [ "$rc" -eq 0 ] || { tail -n 40 "$logs/ocr-bench.log" >&2; fail "OCR: scribe ocr-bench exited with status $rc"; }
  local scribe_pages scribe_pps
  read -r scribe_pages scribe_pps < <(python3 -c 'import json,sys
d = json.loads([l for l in open(sys.argv[1]) if l.strip()][-1])
print(d["pages"], d["pages_per_second"])' "$logs/ocr-bench.json") || { cat "$logs/ocr-bench.json" >&2; fail "OCR: cannot read ocr-bench's JSON line"; }
  [ "$scribe_pages" -eq "$pages" ] || log "warning: ocr-bench counted $scribe_pages pages, expected $pages"
  ocr_rss_mb=$(py rss "$logs/ocr-bench.time")

  log "5 OCR: the same with the tesseract CLI, 2 at a time"
  local start end
  start=$(date +%s.%N)
  rc=0
  for i in $(seq 1 "$repeat"); do for f in "${files[@]}"; do printf '%s\0%s\0' "$i" "$f"; done; done |
    OMP_THREAD_LIMIT=1 xargs -0 -n 2 -P 2 sh -c '
      # $1: the output folder, $2: the repetition, $3: the image.
      if [ "$2" = 1 ]; then tesseract "$3" stdout -l eng+rus --psm 3 >"$1/$(basename "$3").txt"
      else tesseract "$3" stdout -l eng+rus --psm 3 >/dev/null; fi' tesseract-cli "$work/ocr-cli" \
      2>"$logs/ocr-cli.log" || rc=$?
  end=$(date +%s.%N)
  [ "$rc" -eq 0 ] || { tail -n 20 "$logs/ocr-cli.log" >&2; fail "OCR: the tesseract CLI failed (xargs status $rc)"; }
  local cli_pps ratio
  cli_pps=$(python3 -c "print(f'{$pages / ($end - $start):.2f}')")
  ratio=$(python3 -c "print(f'{$scribe_pps / $cli_pps:.2f}')")
  local names=() same total
  for f in "${files[@]}"; do names+=("$(basename "$f")"); done
  py compare "$work/ocr-scribe" "$work/ocr-cli" "${names[@]}" >"$logs/ocr-compare.txt"
  read -r same total <"$logs/ocr-compare.txt"
  tail -n +2 "$logs/ocr-compare.txt" | while read -r line; do log "OCR text: $line"; done
  log "5 OCR: scribe $scribe_pps pages/s, CLI $cli_pps pages/s (${ratio}×), text identical $same/$total"
  row 5 "OCR, Scribe engines" "$(printf '%.2f' "$scribe_pps") pages/s = ${ratio}× the CLI ($cli_pps pages/s, 2 at a time; $pages pages)" "≥ 1.5× the CLI's pages/s"
  row 5b "OCR text identical to the CLI" "$same/$total" "text identical"

  # Pages on their side or upside down: read upright first, then again with
  # orientation detection (the CLI would read them as garbage: no comparison).
  local turned=() turned_pages turned_pps
  for f in Tests/Fixtures/scans/*rot*.png Tests/Fixtures/scans/*exif*.jpg; do
    [ -f "$f" ] && turned+=("$f")
  done
  [ ${#turned[@]} -gt 0 ] || fail "OCR: no rotated fixtures in Tests/Fixtures/scans"
  log "5 OCR: ${#turned[@]} turned pages × $repeat with scribe ocr-bench (2 engines)"
  rc=0
  "$scribe" ocr-bench --repeat "$repeat" --engines 2 "${turned[@]}" \
    >"$logs/ocr-bench-turned.json" 2>"$logs/ocr-bench-turned.log" || rc=$?
  [ "$rc" -eq 0 ] || { tail -n 40 "$logs/ocr-bench-turned.log" >&2; fail "OCR: scribe ocr-bench (turned pages) exited with status $rc"; }
  read -r turned_pages turned_pps < <(python3 -c 'import json,sys
d = json.loads([l for l in open(sys.argv[1]) if l.strip()][-1])
print(d["pages"], d["pages_per_second"])' "$logs/ocr-bench-turned.json") || fail "OCR: cannot read ocr-bench's JSON line (turned pages)"
  local upright_spp turned_spp
  upright_spp=$(python3 -c "print(f'{2 / $scribe_pps:.3f}')")
  turned_spp=$(python3 -c "print(f'{2 / $turned_pps:.3f}')")
  log "5 OCR: turned pages $turned_pps pages/s ($turned_spp s per page per engine; upright $upright_spp s)"
  row 5c "OCR, pages on their side or upside down" "$(printf '%.2f' "$turned_pps") pages/s = $turned_spp s per page per engine (upright: $upright_spp s; ${#turned[@]} fixtures × $repeat)" "upright pages ≤ 10 % slower than before"
}
