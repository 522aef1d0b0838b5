#!/usr/bin/env bash
# Installs what pg_stream needs to build and test on Debian 12, from Debian's
# packages only, and nothing else. Idempotent: returns at once when all is
# present. Run as root (or: sudo scripts/install-deps.sh).
#
#   libraries:  libpqxx, libpq, Boost (Asio, Beast), spdlog, yaml-cpp,
#               prometheus-cpp (core + pull), Catch2 v2, libpg_query (+ the protobuf-c
#               headers its parse-tree header includes)
#   server:     PostgreSQL 15 (tests start their own throwaway clusters)
#   tools:      the compilers, CMake and linters the Makefile calls, when missing
#   locale:     en_US.UTF-8, which the test clusters use as their collation
set -euo pipefail

LIBRARIES=(libpqxx-dev libpq-dev libboost-dev libspdlog-dev libyaml-cpp-dev prometheus-cpp-dev catch2 libpg-query-dev
           libprotobuf-c-dev)  # pg_query.pb-c.h includes protobuf-c.h; libpg-query-dev does not depend on it
SERVER=(postgresql-15 postgresql-client-15)
TOOLS=(cmake make g++ pkg-config clang clang-format clang-tidy cppcheck libclang-rt-14-dev locales)
LOCALE=en_US.UTF-8

missing=()
for pkg in "${LIBRARIES[@]}" "${SERVER[@]}" "${TOOLS[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
locale_ok() { locale -a 2>/dev/null | grep -qiE '^en_US\.utf-?8$'; }

if [ ${#missing[@]} -eq 0 ] && locale_ok; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing: ${missing[*]:-} $(locale_ok || echo "locale $LOCALE")" >&2
  echo "install-deps: run this once as root:  sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  # Debian's server package creates and starts a "main" cluster on install;
  # pg_stream's tests start their own, so don't leave a service behind.
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]]; then
    apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
    sed -i 's/^#\?\s*create_main_cluster\s*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! locale_ok; then
  echo "install-deps: generating locale $LOCALE"
  if grep -qE "^#\s*$LOCALE UTF-8" /etc/locale.gen; then
    sed -i -E "s/^#\s*($LOCALE UTF-8)/\1/" /etc/locale.gen
  elif ! grep -qE "^$LOCALE UTF-8" /etc/locale.gen; then
    echo "$LOCALE UTF-8" >>/etc/locale.gen
  fi
  locale-gen >/dev/null
fi
echo "install-deps: all dependencies present"
