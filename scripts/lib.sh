# Shared by scripts/dev, scripts/test and scripts/bench: system packages and a
# private PostgreSQL cluster on loopback. Source it; don't run it.

# Debian packages Scribe needs to build, test and run.
SCRIBE_PACKAGES=(
  postgresql postgresql-contrib
  pkg-config libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr-rus tesseract-ocr-osd
  poppler-utils
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
