# shellcheck shell=bash
# Part of scripts/bench, which sources it after scripts/lib.sh (fail, log)
# and bench.d/common.sh (row, py), and sets quick, logs, scribe and the
# exported environment (start_stack: DATABASE_URL).

# 12. Retrieval: recall@prompt of facts planted on known pages of long English
# and Russian documents, asked after 20 unrelated turns; the ranking's time
# over 10,000 pages in one conversation; the prompt's size against today's
# whole-document prompt (scribe retrieval-bench).
#
# Then the same with semantic retrieval fused in, the fake LLM's embeddings
# (FakeEmbedding: concept sets with a few synonym groups) standing in for a
# model: rows 12d and 12e.
retrieval() {
  local args=()
  if [ $quick -eq 1 ]; then args=(--english-pages 40 --russian-pages 30 --cost-pages 200 --rounds 1); fi
  retrieval_run "" "${args[@]}"
  start_fake_llm 0 "fake embeddings" "$logs/fake-embeddings.log"
  retrieval_run semantic "${args[@]}" EMBEDDINGS_BASE_URL="http://127.0.0.1:$llm_port/v1" EMBEDDINGS_MODEL=fake-embedding EMBEDDINGS_MIN_SIMILARITY=0.15
  stop_procs "$llm_pid"
}

# retrieval_run [semantic] ARGS... [VAR=value...]: one `scribe retrieval-bench` and its rows.
retrieval_run() {
  local kind=$1; shift
  local args=() env=()
  local word
  for word in "$@"; do
    if [[ $word == *=* ]]; then env+=("$word"); else args+=("$word"); fi
  done
  log "12 retrieval${kind:+ ($kind)}: scribe retrieval-bench ${args[*]}"
  local rc=0 json=$logs/retrieval-bench${kind:+-$kind}.json
  env "${env[@]}" "$scribe" retrieval-bench "${args[@]}" >"$json" 2>"${json%.json}.log" || rc=$?
  [ "$rc" -eq 0 ] || { tail -n 40 "${json%.json}.log" >&2; fail "12 retrieval: scribe retrieval-bench exited with status $rc"; }
  local line
  line=$(tail -n 1 "$json")
  local recall recall_en recall_ru questions pages misses p50 p99 searches cost_pages index_seconds prompt whole cost_recall
  read -r recall recall_en recall_ru questions pages misses p50 p99 searches cost_pages index_seconds prompt whole cost_recall < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print("{:.2f} {:.2f} {:.2f} {} {} {} {:.1f} {:.1f} {} {} {:.0f} {} {} {:.2f}".format(
    d["recall"], d["recall_en"], d["recall_ru"], d["questions"], d["pages"], len(d["misses"]),
    d["search_p50_ms"], d["search_p99_ms"], d["searches"], d["cost_pages"], d["index_seconds"],
    d["prompt_tokens_mean"], d["whole_tokens"], d["cost_recall_among_best"]))' "$line") || fail "12 retrieval: cannot read its JSON line"
  python3 -c 'import json, sys; [print("12 retrieval: missed " + m, file=sys.stderr) for m in json.loads(sys.argv[1])["misses"]]' "$line"
  log "12 retrieval${kind:+ ($kind)}: recall@prompt $recall (en $recall_en, ru $recall_ru) over $questions questions; search p50 $p50 ms, p99 $p99 ms over $cost_pages pages"
  if [ "$kind" = semantic ]; then
    local embed_seconds
    embed_seconds=$(python3 -c 'import json, sys; print("{:.0f}".format(json.loads(sys.argv[1])["embed_seconds"]))' "$line")
    row 12d "recall@prompt, full-text and a fake embedder fused" "$recall ($questions questions; English $recall_en, Russian $recall_ru; $misses missed)" "≥ 0.95"
    row 12e "fused retrieval time, $cost_pages pages (question embedded over loopback)" "p50 $p50 ms, p99 $p99 ms ($searches searches; answering passage among the best 24 for $cost_recall; embedding the pages took $embed_seconds s)" "report"
    return
  fi
  row 12a "recall@prompt, full-text only, after 20 unrelated turns" "$recall ($questions questions on $pages pages; English $recall_en, Russian $recall_ru; $misses missed)" "≥ 0.95"
  row 12b "retrieval time, $cost_pages pages in one conversation" "p50 $p50 ms, p99 $p99 ms ($searches searches; the answering passage among the best 24 for $cost_recall of them; indexing took $index_seconds s)" "p99 ≤ 20 ms"
  row 12c "prompt tokens per question" "$prompt (the question and its passages) against $whole for the two documents whole" "report"
}
