#!/bin/sh
# Installs what the benchmarks run: the peers (tini, dumb-init, catatonit,
# supervisord, s6, runit), gcc and libc headers for the C helpers, and taskset/unshare
# (util-linux).
# Skips apt entirely when everything is already there.
set -e
need=""
for pair in tini:tini dumb-init:dumb-init catatonit:catatonit supervisord:supervisor \
            s6-svscan:s6 runsv:runit gcc:gcc taskset:util-linux unshare:util-linux; do
    tool=${pair%%:*}
    package=${pair#*:}
    command -v "$tool" >/dev/null 2>&1 || need="$need $package"
done
# gcc without libc headers compiles nothing
[ -e /usr/include/stdio.h ] || need="$need libc6-dev"
[ -z "$need" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "benchmarks/setup.sh: as root, run: apt-get install -y$need" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086  # one word per package
apt-get install -y -q --no-install-recommends $need
