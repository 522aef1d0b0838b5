#!/usr/bin/env bash
# Checks the Debian package that `make package` (cpack -G DEB) built in
# BUILD_DIR, without installing it (make package-check; not part of make
# test: it needs the Release build):
#   - its control data: name, Depends from dpkg-shlibdeps (the libraries the
#     binary links, no -dev package), the maintainer scripts and conffiles;
#   - its contents: binary, systemd unit, sysusers.d entry, the example
#     config and the root-only environment file under /etc, the docs;
#   - extracted with dpkg-deb -x: the binary runs (--version), the unit points
#     at the packaged paths, and systemd-analyze verify accepts it.
#
#   scripts/check-package.sh BUILD_DIR
set -euo pipefail

BUILD=$(realpath "${1:?usage: $0 BUILD_DIR (a Release build dir where cpack ran)}")
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }

mapfile -t DEBS < <(find "$BUILD" -maxdepth 1 -name 'pgstream_*.deb' -newer "$BUILD/src/pgstream")
[ ${#DEBS[@]} -eq 1 ] || die "expected one pgstream_*.deb newer than the binary in $BUILD, found ${#DEBS[@]}: run make package"
DEB=${DEBS[0]}
echo "package: $DEB ($(du -h "$DEB" | cut -f1))"

INFO=$(dpkg-deb --info "$DEB")
field() { dpkg-deb --field "$DEB" "$1"; }
[ "$(field Package)" = pgstream ] || die "Package is $(field Package)"
DEPENDS=$(field Depends)
echo "Depends: $DEPENDS"
DEPENDS_NAMES=$(sed -E 's/[,|]/\n/g' <<<"$DEPENDS" | sed -E 's/\(.*\)//; s/ //g')
# Each library the binary links (NEEDED), through the package that owns it.
for lib in $(readelf -d "$BUILD/src/pgstream" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  path=$(ldconfig -p | awk -v lib="$lib" '$1 == lib && $NF ~ /^\// {print $NF; exit}')
  [ -n "$path" ] || die "ldconfig does not know $lib"
  owner=$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null) ||
    die "no package owns $path"
  owner=${owner%%:*}
  # The owner, or a name it Provides (libspdlog1.10's shlibs say libspdlog1.10-fmt9).
  names="$owner $(dpkg-query -W -f='${Provides}' "$owner" | sed -E 's/ \([^)]*\)//g; s/,/ /g')"
  found=""
  for name in $names; do
    grep -qxF "$name" <<<"$DEPENDS_NAMES" && found=$name
  done
  [ -n "$found" ] || die "Depends lacks $owner (for $lib)"
done
grep -qF "adduser | passwd" <<<"$DEPENDS" || die "Depends lacks adduser | passwd"
if grep -qE -- '-dev\b' <<<"$DEPENDS"; then die "Depends names a -dev package"; fi
for script in postinst prerm postrm conffiles; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +[*]? *$script\b" <<<"$INFO" || die "no $script in the control data"
done
CONFFILES=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles)
[ "$CONFFILES" = $'/etc/pgstream/pgstream.yaml.example\n/etc/default/pgstream' ] || die "conffiles: $CONFFILES"
ok "control: Depends from the binary's libraries, postinst/prerm/postrm, conffiles"

CONTENTS=$(dpkg-deb --contents "$DEB")
expect() {  # expect MODE PATH
  grep -qE "^$1 root/root +[0-9]+ [0-9-]+ [0-9:]+ \\.$2\$" <<<"$CONTENTS" || die "not in the package as $1: $2"
}
expect -rwxr-xr-x /usr/bin/pgstream
expect -rw-r--r-- /usr/lib/systemd/system/pgstream.service
expect -rw-r--r-- /usr/lib/sysusers.d/pgstream.conf
expect -rw-r--r-- /etc/pgstream/pgstream.yaml.example
expect -rw------- /etc/default/pgstream
expect -rw-r--r-- /usr/share/doc/pgstream/README.md
if grep -q ' \./etc/pgstream/pgstream\.yaml$' <<<"$CONTENTS"; then die "the package must not ship a live config"; fi
ok "contents: binary, unit, sysusers.d, example config, root-only /etc/default/pgstream, docs"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
dpkg-deb -x "$DEB" "$TMP"
VERSION=$("$TMP/usr/bin/pgstream" --version)
[[ $VERSION == "pgstream $(field Version) "* ]] || die "--version says '$VERSION', the package is $(field Version)"
ok "extracted binary: $VERSION"
UNIT=$TMP/usr/lib/systemd/system/pgstream.service
grep -qx 'ExecStart=/usr/bin/pgstream run --config /etc/pgstream/pgstream.yaml' "$UNIT" || die "ExecStart in the unit"
grep -qx 'EnvironmentFile=-/etc/default/pgstream' "$UNIT" || die "EnvironmentFile in the unit"
if command -v systemd-analyze >/dev/null; then
  sed "s#/usr/bin/pgstream#$TMP/usr/bin/pgstream#" "$UNIT" >"$TMP/pgstream.service"
  OUT=$(systemd-analyze verify --man=no "$TMP/pgstream.service" 2>&1) || die "systemd-analyze verify: $OUT"
  [ -z "$OUT" ] || die "systemd-analyze verify: $OUT"
  ok "systemd-analyze verify accepts the packaged unit"
else
  echo "skipped: systemd-analyze is not installed"
fi
echo "package-check passed"
