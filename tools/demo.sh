#!/usr/bin/env bash
# The demo: a release of examples/ against the local registries (see tools/src/demo.ts).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tools/setup.sh"
# shellcheck source=tools/env.sh
source "$root/tools/env.sh"
cd "$root"
pnpm build
node tools/src/demo.ts "$@"
