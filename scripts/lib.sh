# shellcheck shell=bash
# Shared by every script: system packages, a private PostgreSQL cluster on
# loopback, and start_stack, which brings up what a script runs Scribe against
# (the cluster, the binaries, the environment, `scribe api`, `scribe worker`,
# the fake LLM) and stops all of it when the script exits, however it exits.
# Source it; don't run it.

# Debian packages Scribe needs to build, test and run.
SCRIBE_PACKAGES=(
  postgresql postgresql-contrib
  pkg-config libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr-rus tesseract-ocr-osd
  poppler-utils
  gdb # scripts/hang-report: where a hung test run was stuck
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs whatever of SCRIBE_PACKAGES (plus "$@") is missing.
install_packages() {
  local missing=() pkg
  for pkg in "${SCRIBE_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing system packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The bin folder of the newest installed PostgreSQL server.
pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; return 1; }
  echo "$dir"
}

# Runs a command as the unprivileged owner of the cluster (initdb refuses root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A free TCP port on 127.0.0.1 (nothing answers a connect to it), below the
# ephemeral range (32768-60999) so no outgoing connection holds it.
free_port() {
  local port
  while :; do
    port=$((10000 + RANDOM % 22000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

# start_postgres DATADIR PORT: creates the cluster on first use, then starts it
# on 127.0.0.1:PORT with trust auth for the local superuser `postgres`.
start_postgres() {
  local data=$1 port=$2 bin
  bin=$(pg_bin)
  mkdir -p "$data"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$data"; fi
  chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating PostgreSQL cluster in $data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$port"
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $data -c fsync=${PG_FSYNC:-on} -c max_connections=${PG_MAX_CONNECTIONS:-300}" start >/dev/null
}

# stop_postgres DATADIR
stop_postgres() {
  local data=$1 bin
  bin=$(pg_bin) || return 0
  [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# create_database PORT NAME (no error when it exists)
create_database() {
  local port=$1 name=$2
  psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
}

# mark_run: exports SCRIBE_RUN_MARK, a value of this run's own that every
# process it starts inherits (pg_ctl's server too), so that
# leftover_processes can find them all at the end, even orphaned ones.
mark_run() {
  SCRIBE_RUN_MARK="scribe-run-$$-$RANDOM$RANDOM"
  export SCRIBE_RUN_MARK
}

# leftover_processes: kills every process still running with this run's
# SCRIBE_RUN_MARK (SIGTERM, then SIGKILL after 5 s) except this script and
# its ancestors, names each one, and returns 1 if there was any.
leftover_processes() {
  python3 - "$SCRIBE_RUN_MARK" <<'PY'
import os, signal, sys, time
mark = ("SCRIBE_RUN_MARK=" + sys.argv[1]).encode()
def parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0
mine, pid = set(), os.getpid()
while pid > 1:
    mine.add(pid)
    pid = parent(pid)
left = {}
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) in mine:
        continue
    try:
        with open(f"/proc/{entry}/environ", "rb") as environ:
            if mark not in environ.read().split(b"\0"):
                continue
        with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
            left[int(entry)] = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        continue
if not left:
    sys.exit(0)
print(f"{len(left)} process(es) of this run were still running at its end; every test must stop what it starts:", file=sys.stderr)
for pid, command in sorted(left.items()):
    print(f"  pid {pid} (parent {parent(pid)}): {command[:200]}", file=sys.stderr)
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pid in left:
        try: os.kill(pid, sig)
        except OSError: pass
    deadline = time.time() + 5
    while time.time() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in left):
        time.sleep(0.1)
sys.exit(1)
PY
}

fail() {
  log "FAILED: $*"
  exit 1
}

# ---------------------------------------------------------------------------
# Processes. Every one started with start_proc is recorded, and stack_exit
# stops those still running when the script exits.

declare -a stack_procs=()  # pids started and not reaped yet
declare -A proc_name=()    # pid → a name for messages
declare -A proc_log=()     # pid → its log file
declare -A proc_timed=()   # pid → 1 when the pid is /usr/bin/time wrapping the command
started_pid=
stack_grace=10             # seconds between SIGTERM and SIGKILL

# start_proc NAME LOG|"" TIMEFILE|"" [VAR=value...] COMMAND [ARGS...]
# Starts COMMAND in the background with the environment plus the VAR=value
# words, its output in LOG (the script's own when ""), under
# `/usr/bin/time -v -o TIMEFILE` when TIMEFILE is set. Sets started_pid.
start_proc() {
  local name=$1 logf=$2 timef=$3; shift 3
  local env_words=() timer=()
  while [ $# -gt 0 ] && [[ $1 == *=* ]]; do env_words+=("$1"); shift; done
  [ -n "$timef" ] && timer=(/usr/bin/time -v -o "$timef")
  if [ -n "$logf" ]; then
    env "${env_words[@]}" "${timer[@]}" "$@" >"$logf" 2>&1 &
  else
    env "${env_words[@]}" "${timer[@]}" "$@" &
  fi
  started_pid=$!
  stack_procs+=("$started_pid")
  proc_name[$started_pid]=$name
  proc_log[$started_pid]=$logf
  proc_timed[$started_pid]=${timef:+1}
}

forget_proc() {
  local pid=$1 p kept=()
  for p in "${stack_procs[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  stack_procs=("${kept[@]}")
}

# The process to signal: the command itself, not the /usr/bin/time around it
# (time would die of SIGTERM and leave the command running, with no report).
signal_target() {
  local pid=$1 child
  if [ -n "${proc_timed[$pid]:-}" ]; then
    child=$(pgrep -P "$pid" 2>/dev/null | head -n 1 || true)
    echo "${child:-$pid}"
  else
    echo "$pid"
  fi
}

show_log() {
  local pid=$1
  [ -n "${proc_log[$pid]:-}" ] || return 0
  echo "---- last lines of ${proc_name[$pid]}'s log (${proc_log[$pid]}) ----" >&2
  tail -n 40 "${proc_log[$pid]}" >&2 || true
  echo "----" >&2
}

# check_alive PID...: fails, with the log's tail, when one has exited.
check_alive() {
  local pid rc
  for pid in "$@"; do
    kill -0 "$pid" 2>/dev/null && continue
    rc=0; wait "$pid" || rc=$?
    forget_proc "$pid"
    show_log "$pid"
    fail "${proc_name[$pid]} exited unexpectedly (status $rc)"
  done
}

# terminate PID...: SIGTERM, then SIGKILL after stack_grace seconds; reaps
# them and sets proc_status[PID] to each one's exit status.
declare -A proc_status=()
terminate() {
  local pid deadline=$((SECONDS + stack_grace)) rc
  for pid in "$@"; do kill -TERM "$(signal_target "$pid")" 2>/dev/null || true; done
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "warning: ${proc_name[$pid]} ignored SIGTERM for $stack_grace s; killing it"
      kill -KILL "$(signal_target "$pid")" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rc=0; wait "$pid" 2>/dev/null || rc=$?
    proc_status[$pid]=$rc
    forget_proc "$pid"
  done
}

# stop_procs PID...: terminate, and fail when one did not exit with status 0.
stop_procs() {
  local pid failed=()
  terminate "$@"
  for pid in "$@"; do
    if [ "${proc_status[$pid]}" -ne 0 ]; then show_log "$pid"; failed+=("${proc_name[$pid]} (status ${proc_status[$pid]})"); fi
  done
  [ ${#failed[@]} -eq 0 ] || fail "did not stop cleanly: ${failed[*]}"
}

# wait_http URL PID [SECONDS]: polls URL until it answers 2xx (60 s by default),
# failing early, with its log, when PID exits.
wait_http() {
  local url=$1 pid=$2 deadline=$((SECONDS + ${3:-60}))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    check_alive "$pid"
    [ $SECONDS -lt $deadline ] || { show_log "$pid"; fail "${proc_name[$pid]} did not answer $url after ${3:-60} s"; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------
# The stack.

# What the test scripts (browser-test, api-fuzz) run Scribe with, besides what
# start_stack sets: cheap passwords, quiet logs, quick stops, this checkout's
# migrations and page.
test_app_env=(BCRYPT_COST=4 LOG_LEVEL=notice WORKER_SHUTDOWN_GRACE_SECONDS=1 MIGRATIONS_PATH=sql WEB_ROOT=web)

stack_name=
stack_pgdata=
stack_pgdata_temporary=0
stack_work=
stack_logs=
declare -a stack_exit_hooks=()
scribe=
fake_llm=
pgport=
api_port=
api_pid=
llm_port=
llm_pid=
worker_pid=

# on_exit FUNCTION: stack_exit calls FUNCTION STATUS once every process and
# the cluster are stopped (the work folder is still there); what FUNCTION
# returns is the status the script exits with.
on_exit() { stack_exit_hooks+=("$1"); }

# An on_exit hook: when the run failed, the last lines of every log in the work folder.
show_logs_on_failure() {
  if [ "$1" -ne 0 ]; then
    log "$stack_name failed; the processes' logs:"
    tail -n 30 "$stack_logs"/*.log >&2 || true
  fi
  return "$1"
}

stack_exit() {
  local rc=$? hook
  set +e
  trap - EXIT INT TERM
  [ ${#stack_procs[@]} -eq 0 ] || terminate "${stack_procs[@]}"
  if [ -n "$stack_pgdata" ]; then
    stop_postgres "$stack_pgdata"
    [ "$stack_pgdata_temporary" = 1 ] && rm -rf "$stack_pgdata"
  fi
  for hook in "${stack_exit_hooks[@]}"; do "$hook" "$rc"; rc=$?; done
  [ -n "$stack_work" ] && rm -rf "$stack_work"
  exit "$rc"
}

# stack_build MODE [SCRIBE] [FAKE_LLM=0|1]: sets scribe (and fake_llm when asked).
#   debug    $SCRIBE_BIN, or `swift build --product scribe`; $FAKE_LLM_BIN, or the same for fake-llm
#   tests    `swift build --build-tests` (everything, fake-llm included); exports SCRIBE_BIN and FAKE_LLM_BIN
#   release  SCRIBE if given, else a release build with cross-module optimisation; fake-llm likewise
#   none     nothing
stack_build() {
  local mode=$1 given=${2:-} want_llm=${3:-0} t0=$SECONDS bin
  case "$mode" in
    none) return 0 ;;
    tests)
      log "building"
      swift build --build-tests
      bin=$(swift build --show-bin-path)
      SCRIBE_BIN=$bin/scribe FAKE_LLM_BIN=$bin/fake-llm
      export SCRIBE_BIN FAKE_LLM_BIN
      scribe=$SCRIBE_BIN fake_llm=$FAKE_LLM_BIN
      ;;
    debug)
      # scripts/test has built them already and says where (SCRIBE_BIN, FAKE_LLM_BIN).
      scribe=${SCRIBE_BIN:-}
      [ "$want_llm" = 1 ] && fake_llm=${FAKE_LLM_BIN:-}
      if [ -z "$scribe" ]; then log "building"; swift build --product scribe; fi
      if [ "$want_llm" = 1 ] && [ -z "$fake_llm" ]; then log "building the fake LLM"; swift build --product fake-llm; fi
      bin=$(swift build --show-bin-path)
      scribe=${scribe:-$bin/scribe}
      [ "$want_llm" = 1 ] && fake_llm=${fake_llm:-$bin/fake-llm}
      ;;
    release)
      local flags=(-c release -Xswiftc -cross-module-optimization)
      if [ -n "$given" ]; then
        scribe=$(realpath "$given")
      else
        log "building scribe (release)"
        swift build "${flags[@]}" --product scribe >&2
      fi
      if [ "$want_llm" = 1 ]; then
        log "building the fake LLM (release)"
        swift build "${flags[@]}" --product fake-llm >&2
      fi
      bin=$(swift build -c release --show-bin-path)
      scribe=${scribe:-$bin/scribe}
      [ "$want_llm" = 1 ] && fake_llm=$bin/fake-llm
      ;;
    *) fail "stack_build: unknown mode $mode" ;;
  esac
  [ -x "$scribe" ] || fail "no scribe binary at $scribe"
  [ "$want_llm" = 1 ] && { [ -x "$fake_llm" ] || fail "no fake-llm binary at $fake_llm"; }
  [ $((SECONDS - t0)) -lt 2 ] || log "build took $((SECONDS - t0))s"
}

# start_fake_llm LATENCY_SECONDS NAME LOG: the fake OpenAI-compatible LLM
# (Tests/FakeLLM, the tests' FakeChatCompletionsServer) on a free port,
# answering after LATENCY_SECONDS, word by word over that time when asked to
# stream. Sets llm_port and llm_pid, and returns once it answers.
start_fake_llm() {
  llm_port=$(free_port)
  start_proc "$2" "$3" "" "$fake_llm" "$llm_port" "$1"
  llm_pid=$started_pid
  wait_http "http://127.0.0.1:$llm_port/stats" "$llm_pid" 30
}

# start_stack [OPTIONS] [VAR=value...]
# Brings up what a script runs Scribe against, and makes the script stop all
# of it when it exits, on every path (done, failed, Ctrl-C, SIGTERM): the
# processes get SIGTERM, then SIGKILL after stack_grace seconds; the cluster
# stops; temporary folders go. In order:
#   1. PostgreSQL: a throwaway cluster in /tmp, or --pg DIR (kept), on
#      --pg-port PORT (default a free one), with fsync --fsync on|off (default
#      PG_FSYNC, else on), and the database --database NAME (default postgres).
#      Sets pgport.
#   2. The binaries (stack_build): --build debug|tests|release|none (default
#      debug), --scribe PATH (release: measure that binary); the fake LLM's
#      only when --llm is given or --fake-llm asks for it.
#   3. The environment, exported: DATABASE_URL, OMP_THREAD_LIMIT=1, then with
#      --api JWT_SECRET (random), HOST=127.0.0.1, PORT (a free port), with
#      --llm LLM_PROVIDER=openai, LLM_BASE_URL, LLM_MODEL=fake, and last the
#      VAR=value words, which win.
#   4. With --migrate, `scribe migrate`.
#   5. Processes, their logs in --logs DIR (default a temporary work folder,
#      stack_work): --llm LATENCY the fake LLM (start_fake_llm: llm_port,
#      llm_pid; first, as the environment names its port), --worker
#      `scribe worker` (worker_pid), --api `scribe api` (api_port, api_pid).
#   6. Readiness: the API's /ready answers 200 (the fake LLM's /stats did already).
# --name NAME names the run in messages (default: the script's name).
start_stack() {
  local pg='' port='' fsync='' database=postgres build=debug given='' want_llm=0 latency='' worker=0 api=0 migrate=0 env_words=()
  stack_name=$(basename "$0")
  while [ $# -gt 0 ]; do
    case "$1" in
      --pg) pg=$2; shift ;;
      --pg-port) port=$2; shift ;;
      --fsync) fsync=$2; shift ;;
      --database) database=$2; shift ;;
      --build) build=$2; shift ;;
      --scribe) given=$2; shift ;;
      --fake-llm) want_llm=1 ;;
      --llm) latency=$2 want_llm=1; shift ;;
      --worker) worker=1 ;;
      --api) api=1 ;;
      --migrate) migrate=1 ;;
      --logs) stack_logs=$2; shift ;;
      --name) stack_name=$2; shift ;;
      *=*) env_words+=("$1") ;;
      *) fail "start_stack: unknown option $1" ;;
    esac
    shift
  done
  trap stack_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local tag
  tag=$(basename "$0")
  stack_work=$(mktemp -d "/tmp/scribe-$tag.XXXXXX")
  stack_logs=${stack_logs:-$stack_work}
  mkdir -p "$stack_logs"

  # Its own folder: initdb runs as the postgres user.
  if [ -n "$pg" ]; then
    stack_pgdata=$pg
  else
    stack_pgdata=$(mktemp -d "/tmp/scribe-$tag-pg.XXXXXX") stack_pgdata_temporary=1
  fi
  pgport=${port:-$(free_port)}
  PG_FSYNC=${fsync:-${PG_FSYNC:-on}} start_postgres "$stack_pgdata" "$pgport"
  [ "$database" = postgres ] || create_database "$pgport" "$database"

  stack_build "$build" "$given" "$want_llm"

  [ -z "$latency" ] || start_fake_llm "$latency" "fake LLM" "$stack_logs/llm.log"

  export DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/$database" OMP_THREAD_LIMIT=1
  if [ "$api" = 1 ]; then
    api_port=$(free_port)
    JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    export JWT_SECRET HOST=127.0.0.1 PORT=$api_port
  fi
  if [ -n "$latency" ]; then
    export LLM_PROVIDER=openai LLM_BASE_URL="http://127.0.0.1:$llm_port/v1" LLM_MODEL=fake
  fi
  local word
  for word in "${env_words[@]}"; do export "${word?}"; done

  if [ "$migrate" = 1 ]; then
    "$scribe" migrate >"$stack_logs/migrate.log" 2>&1 || { cat "$stack_logs/migrate.log" >&2; fail "scribe migrate failed"; }
  fi
  if [ "$worker" = 1 ]; then
    start_proc "scribe worker" "$stack_logs/worker.log" "" "$scribe" worker
    worker_pid=$started_pid
  fi
  if [ "$api" = 1 ]; then
    start_proc "scribe api" "$stack_logs/api.log" "" "$scribe" api
    api_pid=$started_pid
  fi
  [ "$api" = 0 ] || wait_http "http://127.0.0.1:$api_port/ready" "$api_pid" 60
  [ "$worker" = 0 ] || check_alive "$worker_pid"
}
