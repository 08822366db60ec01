#!/usr/bin/env bash
# The whole test suite on a fresh machine: setup (Debian packages, Node 24, pnpm, dependencies),
# lint, type check, build, then every test against the real local services (the tests start and
# stop the testbed themselves).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tools/setup.sh"
# shellcheck source=tools/env.sh
source "$root/tools/env.sh"
cd "$root"
pnpm lint
pnpm typecheck
pnpm test
