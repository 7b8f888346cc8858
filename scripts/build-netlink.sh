#!/usr/bin/env bash
# Builds the patched `netlink` addon (patches/netlink+*.patch, applied with patch-package): its poll-error path
# aborted the whole process when the event socket overran (see README, "Link events"). node-gyp-build loads
# build/Release before the package's prebuilds, so the patched build is the one every socket uses; the driver
# refuses to start on the unpatched prebuild. Rebuilds only when the patch, binding.gyp or the Node ABI changed.
# Needs a C++ toolchain and python3 (scripts/setup.sh installs them) and Node's headers (shipped with node).
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=node_modules/netlink
[ -d "$pkg" ] || { echo "build-netlink: $pkg missing (run npm ci first)" >&2; exit 1; }

# patch-package applies every patch in patches/ and says so when one is applied already
npx --no-install patch-package --error-on-fail >/dev/null

# The build is also shipped in edgenet's own package (files: native/), where src/drivers/netlink-addon.ts points
# the netlink package at it: an installed tarball runs the patched addon without compiling anything. It is an N-API
# addon (node-addon-api), so one build serves every Node version; node-gyp-build's name for it says so.
ship() {
  local dir="native/netlink/prebuilds/$(node -p 'process.platform + "-" + process.arch')"
  mkdir -p "$dir"
  if ! cmp -s "$pkg/build/Release/netlink_binding.node" "$dir/node.napi.glibc.node"; then
    cp "$pkg/build/Release/netlink_binding.node" "$dir/node.napi.glibc.node"
  fi
  cp "$pkg/LICENSE" native/netlink/LICENSE
  cp patches/netlink+*.patch native/netlink/
  printf '%s\n' "netlink $(node -p "require('./$pkg/package.json').version") (MIT, see LICENSE), built from its sources with the patch beside this file:" \
    "its poll-error path reads and clears SO_ERROR, reports ENOBUFS to JavaScript and keeps polling (it aborted the process)." > native/netlink/README
  NETLINK_PREBUILD="$PWD/native/netlink" node -e "const b = require('node-gyp-build')('$pkg'); if (b.edgenetPatch !== 1) { console.error('build-netlink: the shipped addon is not the patched build'); process.exit(1); }"
}

stamp="$pkg/build/edgenet-stamp"
want="$(cat patches/netlink+*.patch "$pkg/binding.gyp" | sha256sum | cut -d' ' -f1) node-$(node -p 'process.version + "-" + process.versions.modules + "-" + process.arch')"
if [ -f "$pkg/build/Release/netlink_binding.node" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  ship
  exit 0
fi

# Node's headers: next to the node binary (official and NodeSource builds ship include/node)
nodedir="$(dirname "$(dirname "$(node -p process.execPath)")")"
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  echo "build-netlink: no Node headers under $nodedir/include/node (install the headers of this node build)" >&2
  exit 1
fi
# node-gyp: the copy npm bundles, else the registry's
gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
if [ -f "$gyp" ]; then gyp=(node "$gyp"); else gyp=(npm exec --yes -- node-gyp@11); fi

echo "setup: building the patched netlink addon" >&2
(cd "$pkg" && "${gyp[@]}" rebuild --nodedir="$nodedir" --loglevel=warn >&2)
node -e "const b = require('node-gyp-build')('$pkg'); if (b.edgenetPatch !== 1) { console.error('build-netlink: the loaded addon is not the patched build'); process.exit(1); }"
echo "$want" > "$stamp"
ship
