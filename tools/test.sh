#!/usr/bin/env bash
# The whole test suite on a fresh machine: setup (Debian packages, Node 24, pnpm, dependencies),
# lint, type check, build, then every test against the real local services (the tests start and
# stop the testbed themselves). Each phase's wall time is printed at the end, so a slow CI run
# says where its time went (docs/reliability.md, "How long the suite takes").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
timings=()
phase() {
  local name=$1 t0=$SECONDS
  shift
  "$@"
  timings+=("$name $((SECONDS - t0)) s")
}
report() { printf 'flotilla test: %s\n' "${timings[@]}" "total $SECONDS s" >&2; }
trap report EXIT

phase setup bash "$root/tools/setup.sh"
# shellcheck source=tools/env.sh
source "$root/tools/env.sh"
cd "$root"
phase lint pnpm lint
# Type check and build in one turbo run: the tasks run side by side on the two cores, and
# `pnpm test`'s own `turbo run build` then finds everything cached.
phase typecheck+build pnpm exec turbo run typecheck build
phase tests pnpm test
