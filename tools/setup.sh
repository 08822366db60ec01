#!/usr/bin/env bash
# One-time machine setup, safe to run again: Debian packages for the testbed, Node 24, pnpm,
# and the workspace's dependencies from the frozen lockfile.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v git >/dev/null 2>&1 || need+=(git)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# strace: the secrets scan (test/helpers/secrets-scan.ts) reads every child process's argv through it.
command -v strace >/dev/null 2>&1 || need+=(strace)
# A static busybox for the offline node:24-slim base image (replaces Debian's dynamic busybox).
if ! file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; then need+=(busybox-static file); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "flotilla setup: apt-get install ${need[*]}" >&2
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

# shellcheck source=tools/env.sh
source "$root/tools/env.sh"
cd "$root"
pnpm install --frozen-lockfile
