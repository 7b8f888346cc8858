// Which build of the `netlink` addon the link drivers load. The registry's prebuild aborts the process when link
// events overflow (README "Link events"), so edgenet ships its own patched build in the package, built by
// scripts/build-netlink.sh (at setup and at `npm pack`): native/netlink/prebuilds/<platform>-<arch>/node.napi.glibc.node.
// It is an N-API addon (ABI-stable across Node versions). node-gyp-build, which the package uses to find its binding,
// looks in $NETLINK_PREBUILD first: this module points it at ours before `netlink` is loaded (import it first).
// Without a shipped build for this platform (another arch, a checkout before setup) the package's own build is
// loaded, and links-netlink.ts refuses it unless it is the patched one.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-info.ts';

/** Where the package keeps its patched addon build, relative to its root. */
export const SHIPPED_ADDON_DIR = 'native/netlink';
/** node-gyp-build's file name for an N-API build for glibc (any Node ABI). */
export const SHIPPED_ADDON_FILE = 'node.napi.glibc.node';

/** The shipped addon's directory (what $NETLINK_PREBUILD names) when it holds a build for this platform. */
export function shippedAddonDir(root: string | undefined = packageRoot()): string | undefined {
  if (root === undefined) return undefined;
  const dir = join(root, SHIPPED_ADDON_DIR);
  return existsSync(join(dir, 'prebuilds', `${process.platform}-${process.arch}`, SHIPPED_ADDON_FILE)) ? dir : undefined;
}

// an explicit $NETLINK_PREBUILD (an operator's own build) wins
if (process.env.NETLINK_PREBUILD === undefined) {
  const dir = shippedAddonDir();
  if (dir !== undefined) process.env.NETLINK_PREBUILD = dir;
}
