#!/usr/bin/env bash
# Checks docker/Dockerfile without a Docker engine, by executing its steps on
# this Debian 12 machine (make docker-check; not part of make test: it builds
# Release and downloads a Debian base system once).
#
#   scripts/check-dockerfile.sh [WORK_DIR]      (default: build/docker-check; run as root)
#
# 1. Parses the Dockerfile (continuation lines, stages, instructions) and
#    checks it statically: every COPY source exists in the context, the
#    runtime stage installs no -dev package, runs as a non-root USER, EXPOSEs
#    9187 and has a HEALTHCHECK, ENTRYPOINT and CMD. Lints it with hadolint
#    when hadolint is installed (Debian 12 does not package it).
# 2. Build stage: copies the stage's COPY sources into WORK_DIR/build-stage
#    (its WORKDIR) and runs each RUN line there with bash -e. The host is the
#    Debian 12 image here: scripts/install-deps.sh makes it so.
# 3. Runtime stage: debootstrap's minbase variant of bookworm (what the
#    official debian:bookworm-slim image is made from; downloaded once and
#    cached as WORK_DIR/bookworm-minbase.tar) is unpacked fresh, and the
#    stage's RUN lines run in it under chroot, its COPY lines copy into it.
#    Then, as the image's USER: `ldd` of the binary must resolve every
#    library from the installed packages alone, the owner of each library
#    the binary links must be a listed package or in the base system (a
#    listed package that provides none is reported), and `pgstream
#    --version` must run.
# 4. In a private network namespace (so port 9187 is ours): a throwaway
#    PostgreSQL 15 gets docker/init.sql (the compose trial's least-privileged
#    role), the image's ENTRYPOINT+CMD runs in the chroot as the image's USER
#    with PGSTREAM_DSN/PGPASSWORD as compose.yaml sets them, the stream table
#    must fill, and the HEALTHCHECK command must succeed while the daemon runs
#    and fail once it stopped.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DOCKERFILE=$REPO/docker/Dockerfile
WORK=$(realpath -m "${1:-$REPO/build/docker-check}")
ROOTFS=$WORK/runtime-root
BASE_TAR=$WORK/bookworm-minbase.tar
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (chroot, mounts, a network namespace)"
for tool in debootstrap chroot unshare ip; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install debootstrap iproute2"
done

# --- 1. parse ------------------------------------------------------------
# Instructions as "STAGE<TAB>KEYWORD<TAB>ARGUMENTS", continuation lines joined.
declare -a INSTR=()
parse_dockerfile() {
  local line joined="" stage=-1 keyword rest
  while IFS= read -r line || [ -n "$line" ]; do
    [[ -z $joined && ( $line =~ ^[[:space:]]*# || $line =~ ^[[:space:]]*$ ) ]] && continue
    if [[ $line == *\\ ]]; then joined+="${line%\\} "; continue; fi
    joined+=$line
    keyword=${joined%%[[:space:]]*}
    keyword=${keyword^^}
    rest=${joined#*[[:space:]]}
    rest=$(sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//' <<<"$rest")
    [ "$keyword" = FROM ] && stage=$((stage + 1))
    INSTR+=("$stage"$'\t'"$keyword"$'\t'"$rest")
    joined=""
  done <"$DOCKERFILE"
}

# A JSON array of strings (the exec form) as NUL-separated words on stdout.
json_words() {
  local text=$1 i=0 ch word="" in_string=0 n=${#1}
  [[ $text =~ ^\[.*\]$ ]] || die "not a JSON array: $text"
  while [ $i -lt "$n" ]; do
    ch=${text:i:1}
    if [ $in_string -eq 1 ]; then
      if [ "$ch" = "\\" ]; then
        i=$((i + 1)); ch=${text:i:1}
        case $ch in n) word+=$'\n' ;; t) word+=$'\t' ;; r) word+=$'\r' ;; *) word+=$ch ;; esac
      elif [ "$ch" = '"' ]; then
        printf '%s\0' "$word"; word=""; in_string=0
      else
        word+=$ch
      fi
    elif [ "$ch" = '"' ]; then
      in_string=1
    fi
    i=$((i + 1))
  done
}

instr() {  # instr STAGE KEYWORD: the arguments of each such instruction, one per line
  local entry
  for entry in "${INSTR[@]}"; do
    IFS=$'\t' read -r s k a <<<"$entry"
    [ "$s" = "$1" ] && [ "$k" = "$2" ] && printf '%s\n' "$a"
  done
  return 0
}

step "parse $DOCKERFILE"
parse_dockerfile
STAGES=$(printf '%s\n' "${INSTR[@]}" | cut -f1 | sort -u | wc -l)
[ "$STAGES" -eq 2 ] || die "expected 2 stages (build, runtime), found $STAGES"
[[ $(instr 0 FROM) == "debian:bookworm AS build" ]] || die "stage 1 must be FROM debian:bookworm AS build"
[[ $(instr 1 FROM) == debian:bookworm-slim* ]] || die "stage 2 must be FROM debian:bookworm-slim"
BUILD_WORKDIR=$(instr 0 WORKDIR | tail -n 1)
[ -n "$BUILD_WORKDIR" ] || die "the build stage needs a WORKDIR"
RUNTIME_USER=$(instr 1 USER | tail -n 1)
if [ -z "$RUNTIME_USER" ] || [ "$RUNTIME_USER" = root ] || [ "$RUNTIME_USER" = 0 ]; then
  die "the runtime stage must switch to a non-root USER"
fi
instr 1 EXPOSE | grep -qw 9187 || die "the runtime stage must EXPOSE 9187"
HEALTHCHECK=$(instr 1 HEALTHCHECK)
[[ $HEALTHCHECK == *CMD* ]] || die "the runtime stage needs a HEALTHCHECK ... CMD"
HEALTH_JSON=${HEALTHCHECK#*CMD }
ENTRYPOINT=$(instr 1 ENTRYPOINT)
CMD=$(instr 1 CMD)
if [ -z "$ENTRYPOINT" ] || [ -z "$CMD" ]; then die "the runtime stage needs ENTRYPOINT and CMD"; fi
while read -r args; do
  [[ $args == --from=* ]] && continue
  read -r -a words <<<"$args"
  for src in "${words[@]:0:${#words[@]}-1}"; do
    [ -e "$REPO/$src" ] || die "COPY source $src does not exist in the context"
  done
done < <(instr 0 COPY; instr 1 COPY)
if instr 1 RUN | grep -qE -- '-dev([[:space:]]|$)'; then die "the runtime stage installs a -dev package"; fi
ok "2 stages, COPY sources exist, runtime user '$RUNTIME_USER', EXPOSE 9187, HEALTHCHECK, ENTRYPOINT/CMD"

step "lint"
if command -v hadolint >/dev/null; then
  hadolint "$DOCKERFILE" && ok "hadolint: no findings"
else
  echo "skipped: hadolint is not installed, and Debian 12 does not package it (apt-cache policy hadolint: no candidate)"
fi

# --- 2. build stage --------------------------------------------------------
step "build stage: COPY into $WORK/build-stage, RUN there"
STAGE_DIR=$WORK/build-stage
mkdir -p "$STAGE_DIR"
: >"$WORK/build-stage.log"
run_build_stage() {
  local entry s k a
  for entry in "${INSTR[@]}"; do
    IFS=$'\t' read -r s k a <<<"$entry"
    [ "$s" = 0 ] || continue
    case $k in
      COPY)
        read -r -a words <<<"$a"
        local dest=${words[-1]}
        for src in "${words[@]:0:${#words[@]}-1}"; do
          if [ -d "$REPO/$src" ]; then
            mkdir -p "$STAGE_DIR/$dest"
            cp -a --update "$REPO/$src/." "$STAGE_DIR/$dest/"  # --update: mtimes kept, rebuilds incremental
          elif [[ $dest == */ ]]; then
            mkdir -p "$STAGE_DIR/$dest"
            cp -a --update "$REPO/$src" "$STAGE_DIR/$dest"
          else
            mkdir -p "$(dirname "$STAGE_DIR/$dest")"
            cp -a --update "$REPO/$src" "$STAGE_DIR/$dest"
          fi
        done
        echo "COPY $a"
        ;;
      RUN)
        echo "RUN $a   (output: $WORK/build-stage.log)"
        (cd "$STAGE_DIR" && nice bash -ec "$a") >>"$WORK/build-stage.log" 2>&1 ||
          { tail -30 "$WORK/build-stage.log"; die "build stage: RUN failed: $a"; }
        ;;
      FROM | WORKDIR | ARG | ENV | LABEL) ;;
      *) die "build stage: the check does not know how to run $k" ;;
    esac
  done
}
run_build_stage
ok "build stage done"

# --- 3. runtime stage ------------------------------------------------------
step "runtime stage: bookworm minbase in $ROOTFS"
if [ ! -f "$BASE_TAR" ]; then
  echo "debootstrap --variant=minbase bookworm (once; cached in $BASE_TAR)"
  rm -rf "$WORK/minbase"
  debootstrap --variant=minbase bookworm "$WORK/minbase" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
  tar -C "$WORK/minbase" -cf "$BASE_TAR" .
  rm -rf "$WORK/minbase"
fi
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS"
tar -C "$ROOTFS" -xf "$BASE_TAR"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"

# In chroot, with /proc and /dev mounted in a private mount namespace (the
# mounts vanish with it). `unshare --net` adds a network namespace.
in_root() {  # in_root [unshare options] -- COMMAND...
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  # shellcheck disable=SC2016
  unshare --mount --propagation private "${opts[@]}" -- bash -c '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    exec "$@"' in_root "$ROOTFS" "$@"
}

run_runtime_stage() {
  local entry s k a from src dest
  for entry in "${INSTR[@]}"; do
    IFS=$'\t' read -r s k a <<<"$entry"
    [ "$s" = 1 ] || continue
    case $k in
      RUN)
        echo "RUN $a"
        in_root -- chroot "$ROOTFS" /bin/sh -ec "$a" >"$WORK/run.log" 2>&1 ||
          { tail -30 "$WORK/run.log"; die "runtime stage: RUN failed: $a"; }
        ;;
      COPY)
        read -r -a words <<<"$a"
        from=""
        if [[ ${words[0]} == --from=* ]]; then from=${words[0]#--from=}; words=("${words[@]:1}"); fi
        dest=${words[-1]}
        for src in "${words[@]:0:${#words[@]}-1}"; do
          if [ "$from" = build ]; then
            [[ $src == "$BUILD_WORKDIR"/* ]] || die "COPY --from=build: $src is outside the build WORKDIR"
            src=$STAGE_DIR/${src#"$BUILD_WORKDIR"/}
          elif [ -n "$from" ]; then
            die "COPY --from=$from: unknown stage"
          else
            src=$REPO/$src
          fi
          [ -e "$src" ] || die "COPY: $src does not exist"
          mkdir -p "$(dirname "$ROOTFS$dest")"
          cp -a "$src" "$ROOTFS$dest"
        done
        echo "COPY $a"
        ;;
      FROM | USER | EXPOSE | HEALTHCHECK | ENTRYPOINT | CMD | ARG | ENV | LABEL | WORKDIR) ;;
      *) die "runtime stage: the check does not know how to run $k" ;;
    esac
  done
}
run_runtime_stage

as_user() { in_root "$@"; }
USERSPEC="$RUNTIME_USER:$RUNTIME_USER"
BINARY=/usr/bin/pgstream
[ -x "$ROOTFS$BINARY" ] || die "the runtime stage has no $BINARY"

step "runtime stage: libraries"
LDD=$(in_root -- chroot --userspec="$USERSPEC" "$ROOTFS" ldd "$BINARY")
if grep -q "not found" <<<"$LDD"; then
  echo "$LDD"
  die "libraries missing in the runtime image"
fi
ok "ldd resolves all $(grep -c '=>' <<<"$LDD") libraries"
PACKAGES=$(instr 1 RUN | grep -oE 'apt-get install .*' | tr ' ' '\n' |
  grep -vE '^(apt-get|install|-.*|&&|rm|)$' | sed -n '/^[a-z0-9][a-z0-9.+-]*$/p' | sort -u)
[ -n "$PACKAGES" ] || die "found no apt-get install in the runtime stage"
NEEDED=$(readelf -d "$ROOTFS$BINARY" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
OWNERS=""
for lib in $NEEDED; do
  path=$(awk -v lib="$lib" '$1 == lib && $3 ~ /^\// {print $3}' <<<"$LDD")
  [ -n "$path" ] || die "ldd does not show where $lib comes from"
  # usrmerge: dpkg may know the file under /usr/lib or /lib.
  owner=$(in_root -- chroot "$ROOTFS" sh -c "dpkg -S '$path' 2>/dev/null || dpkg -S '/usr$path' 2>/dev/null ||
    dpkg -S \"\$(readlink -f '$path')\" 2>/dev/null || true" | head -n 1 | cut -d: -f1)
  [ -n "$owner" ] || die "no package owns $path ($lib)"
  OWNERS+="$owner"$'\n'
done
OWNERS=$(sort -u <<<"$OWNERS")
BASE_PACKAGES=$(tar -xOf "$BASE_TAR" ./var/lib/dpkg/status | sed -n 's/^Package: //p' | sort -u)
for owner in $OWNERS; do
  grep -qx "$owner" <<<"$PACKAGES" || grep -qx "$owner" <<<"$BASE_PACKAGES" ||
    die "the binary needs $owner (a library it links), which the runtime stage does not install"
done
EXTRA=""
for package in $PACKAGES; do
  grep -qx "$package" <<<"$OWNERS" || EXTRA+=" $package"
done
echo "binary links: $(tr '\n' ' ' <<<"$OWNERS")"
if [ -n "$EXTRA" ]; then
  echo "WARNING: the runtime stage installs${EXTRA}, which this binary does not link (drop them unless a"
  echo "         build that links them is near: the list is checked against the binary built here)"
fi
ok "every library the binary links comes from a package the runtime stage installs (or the base system)"
VERSION=$(in_root -- chroot --userspec="$USERSPEC" "$ROOTFS" "$BINARY" --version)
ok "as $RUNTIME_USER: $VERSION"

# --- 4. the daemon and the HEALTHCHECK --------------------------------------
step "runtime stage: ENTRYPOINT+CMD against PostgreSQL 15, HEALTHCHECK"
mapfile -d '' -t ENTRY_WORDS < <(json_words "$ENTRYPOINT")
mapfile -d '' -t CMD_WORDS < <(json_words "$CMD")
[ "${ENTRY_WORDS[0]}" = pgstream ] || die "ENTRYPOINT must start pgstream"
if ! grep -q /healthz "$ROOTFS$BINARY"; then
  echo "skipped: this build of pgstream serves no /healthz yet (the HTTP listener is not wired into the daemon);"
  echo "         the HEALTHCHECK command is checked against the daemon once it does"
  HEALTH_SKIPPED=1
fi

# The HEALTHCHECK command itself, against a stand-in server on 127.0.0.1:9187
# in a network namespace of its own: 200 passes, 503 and no listener fail.
mapfile -d '' -t HEALTH_WORDS < <(json_words "$HEALTH_JSON")
if command -v python3 >/dev/null; then
  export ROOTFS USERSPEC
  export -f in_root
  # shellcheck disable=SC2016
  unshare --net -- bash -ec '
    ip link set lo up
    server=""
    trap '"'"'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi'"'"' EXIT
    health() { in_root -- chroot --userspec="$USERSPEC" "$ROOTFS" "$@" >/dev/null 2>&1; }
    serve() {  # serve STATUS: answer /healthz with STATUS until killed
      python3 -c "
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(int(sys.argv[1]) if self.path == \"/healthz\" else 404); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer((\"127.0.0.1\", 9187), H).serve_forever()" "$1" &
      server=$!
      for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/9187) 2>/dev/null && return; sleep 0.1; done
      echo "FAIL: the stand-in server did not start" >&2; exit 1
    }
    serve 200; health "$@" || { echo "FAIL: HEALTHCHECK fails against a 200" >&2; exit 1; }; kill $server; wait $server || true; server=""
    serve 503; if health "$@"; then echo "FAIL: HEALTHCHECK passes against a 503" >&2; exit 1; fi; kill $server; wait $server || true; server=""
    if health "$@"; then echo "FAIL: HEALTHCHECK passes with nothing listening" >&2; exit 1; fi
  ' health "${HEALTH_WORDS[@]}" || die "the HEALTHCHECK command misjudges a stand-in server"
  ok "HEALTHCHECK command: passes on 200 from /healthz, fails on 503 and when nothing listens (stand-in server)"
else
  echo "skipped: no python3 for the stand-in server that checks the HEALTHCHECK command alone"
fi
export WORK ROOTFS USERSPEC REPO HEALTH_SKIPPED
export ENTRY="${ENTRY_WORDS[*]@Q} ${CMD_WORDS[*]@Q}" HEALTH="${HEALTH_WORDS[*]@Q}"
export -f in_root die ok
# shellcheck disable=SC2016
unshare --net -- bash -ec '
  ip link set lo up
  cluster=$WORK/pg
  "$REPO/scripts/pg-test-cluster.sh" stop "$cluster" 2>/dev/null || true
  eval "$("$REPO/scripts/pg-test-cluster.sh" start "$cluster")"
  daemon_pid=""
  cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    "$REPO/scripts/pg-test-cluster.sh" stop "$cluster"
  }
  trap cleanup EXIT
  psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE app" >/dev/null
  psql -qX -v ON_ERROR_STOP=1 -d app -c "CREATE ROLE app SUPERUSER" -f "$REPO/docker/init.sql" >/dev/null
  echo "init.sql applied; starting: ${ENTRY}"
  # As compose.yaml runs it: the DSN and the password from the environment.
  eval "set -- $ENTRY"
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin PGSTREAM_DSN="host=127.0.0.1 port=$PGPORT dbname=app user=pgstream" PGPASSWORD=pgstream \
    unshare --mount --propagation private -- bash -c "mount -t proc proc $ROOTFS/proc; mount --bind /dev $ROOTFS/dev;
      exec chroot --userspec=$USERSPEC $ROOTFS \"\$@\"" daemon "$@" >"$WORK/daemon.log" 2>&1 &
  daemon_pid=$!
  filled=""
  for _ in $(seq 1 120); do
    kill -0 "$daemon_pid" 2>/dev/null || { tail -20 "$WORK/daemon.log"; die "the daemon exited"; }
    filled=$(psql -qAtX -d app -c "SELECT count(*) FROM analytics.customer_totals" 2>/dev/null || true)
    [ "$filled" = 4 ] && break
    sleep 0.5
  done
  [ "$filled" = 4 ] || { tail -20 "$WORK/daemon.log"; die "analytics.customer_totals did not fill (got ${filled:-nothing})"; }
  psql -qX -d app -c "INSERT INTO customers VALUES (1000, '"'"'new'"'"', '"'"'center'"'"')" \
       -c "INSERT INTO orders (customer_id, amount) VALUES (1000, 42)" >/dev/null
  [ "$(psql -qAtX -d app -c "SELECT pgstream.wait_for(pg_current_wal_lsn(), '"'"'30s'"'"')")" = t ] ||
    die "the stream table did not catch up"
  diff=$(psql -qAtX -d app -c "SELECT count(*) FROM ((SELECT region, orders, revenue FROM analytics.customer_totals EXCEPT ALL
    SELECT c.region, count(*), sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.region)
    UNION ALL (SELECT c.region, count(*), sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id
    GROUP BY c.region EXCEPT ALL SELECT region, orders, revenue FROM analytics.customer_totals)) d")
  [ "$diff" = 0 ] || die "analytics.customer_totals differs from its query ($diff rows)"
  ok "as the least-privileged role of init.sql the daemon filled and maintains analytics.customer_totals"
  if [ -z "${HEALTH_SKIPPED:-}" ]; then
    eval "set -- $HEALTH"
    healthy=""
    for _ in $(seq 1 60); do
      if in_root -- chroot --userspec=$USERSPEC $ROOTFS "$@" >/dev/null 2>&1; then healthy=1; break; fi
      sleep 0.5
    done
    [ -n "$healthy" ] || { tail -20 "$WORK/daemon.log"; die "HEALTHCHECK failed against the running daemon"; }
    ok "HEALTHCHECK passes against the running daemon"
  fi
  kill "$daemon_pid"; wait "$daemon_pid" && rc=0 || rc=$?
  daemon_pid=""
  [ "$rc" = 0 ] || { tail -20 "$WORK/daemon.log"; die "SIGTERM: the daemon exited $rc, not 0"; }
  ok "SIGTERM: the daemon exited 0"
  if [ -z "${HEALTH_SKIPPED:-}" ]; then
    eval "set -- $HEALTH"
    if in_root -- chroot --userspec=$USERSPEC $ROOTFS "$@" >/dev/null 2>&1; then
      die "HEALTHCHECK passes with no daemon running"
    fi
    ok "HEALTHCHECK fails once the daemon stopped"
  fi
'
step "docker-check passed"
