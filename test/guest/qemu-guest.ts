// A throw-away QEMU guest on Debian's stock kernel, for kernel features this machine's kernel lacks (802.1Q, bridge
// VLAN filtering, bonding). Nothing is installed: `apt-get download` fetches the kernel image, qemu-system-x86, the
// libraries it lacks and busybox-static into a cache dir, `dpkg-deb -x` unpacks them there. The guest boots that
// kernel with a small initramfs (busybox + the virtio/9p modules), mounts this machine's `/` read-only over 9p,
// tmpfs on /run and /tmp, the checkout at its own path (a share of its own: a clone under /tmp stays visible), the
// guest kernel's modules on /lib/modules, and runs one script; another 9p share (rw) carries the results out. No network device; KVM when /dev/kvm works, else TCG.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, copyFileSync, chmodSync, symlinkSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';

/** Cached downloads and unpacked trees; outside /tmp (the guest's /tmp is its own tmpfs). */
export const GUEST_CACHE = process.env.EDGENET_GUEST_CACHE ?? '/var/cache/edgenet-guest';

const KERNEL_META = 'linux-image-amd64';
/** qemu-system-x86 and what this machine lacks of its dependencies (checked with ldd), plus the initramfs's shell. */
const PACKAGES = [
  'qemu-system-x86', 'qemu-system-common', 'qemu-system-data', 'seabios',
  'libcapstone4', 'libfdt1', 'libpmem1', 'librdmacm1', 'libibverbs1', 'libslirp0', 'libvdeplug2', 'liburing2',
  'libfuse3-3', 'libaio1', 'libndctl6', 'libdaxctl1', 'libnl-3-200', 'libnl-route-3-200',
  'busybox-static',
];
/** Loaded by the initramfs, in this order, to reach the 9p root. */
const BOOT_MODULES = ['virtio', 'virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'overlay'];

export interface GuestImage {
  qemu: string;
  libPath: string;
  biosDir: string;
  kernel: string;
  initrd: string;
  kernelVersion: string;
  /** the guest kernel's /lib/modules/<version> (depmod'ed) */
  modulesDir: string;
  busybox: string;
}

function sh(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim().slice(0, 800)}`);
  return r.stdout;
}

/** The kernel package linux-image-amd64 depends on (e.g. linux-image-6.1.0-57-amd64). */
function kernelPackage(): string {
  const out = sh('apt-cache', ['depends', KERNEL_META]);
  const m = /Depends: (linux-image-[0-9][^\s]*)/.exec(out);
  if (!m?.[1]) throw new Error(`apt-cache depends ${KERNEL_META}: no kernel image in ${JSON.stringify(out.slice(0, 200))}`);
  return m[1];
}

/** Downloads (once) and unpacks (once) everything; builds the initramfs. Throws when it cannot. */
export function prepareGuestImage(cache = GUEST_CACHE): GuestImage {
  const debs = join(cache, 'debs');
  const root = join(cache, 'root');
  mkdirSync(debs, { recursive: true });
  const stamp = join(cache, 'unpacked.json');
  const kpkg = existsSync(stamp) ? (JSON.parse(readFileSync(stamp, 'utf8')) as { kernel: string }).kernel : kernelPackage();
  if (!existsSync(stamp)) {
    const have = readdirSync(debs);
    const missing = [kpkg, ...PACKAGES].filter((p) => !have.some((f) => f.startsWith(`${p}_`)));
    // apt runs the download as _apt: let it write into the cache (else it warns and falls back to root)
    chmodSync(debs, 0o777);
    if (missing.length) sh('apt-get', ['download', '-q', ...missing], debs);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    for (const f of readdirSync(debs).filter((f) => f.endsWith('.deb'))) sh('dpkg-deb', ['-x', join(debs, f), root]);
    writeFileSync(stamp, JSON.stringify({ kernel: kpkg }));
  }
  const busybox = join(root, 'bin', 'busybox');
  const kernelVersion = kpkg.replace(/^linux-image-/, '');
  const modulesDir = join(root, 'lib', 'modules', kernelVersion);
  if (!existsSync(join(modulesDir, 'modules.dep'))) sh(busybox, ['depmod', '-b', root, kernelVersion]);
  const image: GuestImage = {
    qemu: join(root, 'usr', 'bin', 'qemu-system-x86_64'),
    libPath: [join(root, 'usr', 'lib', 'x86_64-linux-gnu'), join(root, 'lib', 'x86_64-linux-gnu')].join(':'),
    biosDir: join(root, 'usr', 'share', 'seabios'),
    kernel: join(root, 'boot', `vmlinuz-${kernelVersion}`),
    // named by its init script: a changed script builds a new initramfs instead of booting a stale cached one
    initrd: join(cache, `initrd-${createHash('sha256').update(INIT).digest('hex').slice(0, 12)}.img`),
    kernelVersion,
    modulesDir,
    busybox,
  };
  if (!existsSync(image.initrd)) buildInitramfs(image, join(cache, 'initramfs'));
  return image;
}

/** Module files of BOOT_MODULES and what they need, dependencies first (from modules.dep). */
function bootModuleFiles(modulesDir: string): string[] {
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const [file, rest] = line.split(':');
    if (file) deps.set(file, (rest ?? '').trim().split(/\s+/).filter(Boolean));
  }
  const order: string[] = [];
  const visit = (file: string): void => {
    if (order.includes(file)) return;
    for (const d of deps.get(file) ?? []) visit(d);
    order.push(file);
  };
  for (const name of BOOT_MODULES) {
    const file = [...deps.keys()].find((f) => f.endsWith(`/${name}.ko`));
    if (!file) throw new Error(`module ${name} not in ${modulesDir}/modules.dep`);
    visit(file);
  }
  return order;
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /modules/*.ko; do insmod "$m" || echo "initramfs: insmod $m failed"; done
arg() { sed -n "s/.*$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }
SCRIPT=$(arg edgenet.script); OUT=$(arg edgenet.out); MODS=$(arg edgenet.modules); CACHE=$(arg edgenet.cache)
mkdir -p /lower /rw
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /lower || { echo "initramfs: 9p root failed"; poweroff -f; }
# the host's / stays read-only (9p readonly=on); the guest writes into RAM above it (vitest caches, /lib/modules)
mount -t tmpfs tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || { echo "initramfs: overlay failed"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=262144 out /newroot$OUT || echo "initramfs: out share failed"
mount -t tmpfs tmpfs /newroot/run
mount -t tmpfs tmpfs /newroot/tmp
# the checkout may live under /tmp or /run (a CI clone does): its own share, writable in RAM above it, at its own path
REPO=$(arg edgenet.repo)
mkdir -p /repo-lower /rw/repo-upper /rw/repo-work /newroot$REPO
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 repo /repo-lower || { echo "initramfs: repo share failed"; poweroff -f; }
mount -t overlay overlay -o lowerdir=/repo-lower,upperdir=/rw/repo-upper,workdir=/rw/repo-work /newroot$REPO || { echo "initramfs: repo overlay failed"; poweroff -f; }
mkdir -p /newroot/lib/modules/$(uname -r)
mount --bind /newroot$MODS /newroot/lib/modules/$(uname -r)
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
exec switch_root /newroot /bin/bash $SCRIPT
`;

function buildInitramfs(image: GuestImage, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'modules'), { recursive: true });
  copyFileSync(image.busybox, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  symlinkSync('busybox', join(dir, 'bin', 'sh'));
  bootModuleFiles(image.modulesDir).forEach((file, i) => {
    copyFileSync(join(image.modulesDir, file), join(dir, 'modules', `${String(i).padStart(2, '0')}-${file.split('/').pop() ?? ''}`));
  });
  writeFileSync(join(dir, 'init'), INIT, { mode: 0o755 });
  const files = sh('find', ['.', '-mindepth', '1'], dir).trim().split('\n');
  const r = spawnSync(image.busybox, ['cpio', '-o', '-H', 'newc'], { cwd: dir, input: files.join('\n') + '\n', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`cpio failed: ${String(r.stderr)}`);
  mkdirSync(dirname(image.initrd), { recursive: true });
  writeFileSync(image.initrd, r.stdout);
}

function kvmUsable(): boolean {
  try {
    return existsSync('/dev/kvm') && spawnSync('test', ['-w', '/dev/kvm']).status === 0;
  } catch {
    return false;
  }
}

export interface GuestRun {
  /** the guest's console (kernel messages and the script's output) */
  console: string;
  code: number | null;
  accel: string;
  ms: number;
}

/**
 * Boots the guest and runs `script` (a path on this machine) with busybox sh; `outDir` (a directory on this machine,
 * outside /tmp) is writable inside the guest at the same path. Resolves when the guest powers off.
 */
export function runGuest(
  image: GuestImage,
  opts: { script: string; outDir: string; repo: string; cache?: string; timeoutMs?: number; memoryMb?: number; /** run only the guest files whose path contains this ([A-Za-z0-9_.-]) */ filter?: string },
): Promise<GuestRun> {
  if (opts.filter !== undefined && !/^[A-Za-z0-9_.-]+$/.test(opts.filter)) throw new Error(`guest filter ${JSON.stringify(opts.filter)}: only [A-Za-z0-9_.-]`);
  const cache = opts.cache ?? GUEST_CACHE;
  // TCG unless EDGENET_GUEST_ACCEL=kvm: /dev/kvm exists on this machine but a nested guest hangs in its BIOS
  const accel = process.env.EDGENET_GUEST_ACCEL === 'kvm' && kvmUsable() ? 'kvm' : 'tcg';
  const boot = (accel: string): Promise<GuestRun> =>
    new Promise((resolve, reject) => {
      const start = Date.now();
      const args = [
        '-accel', accel, '-m', String(opts.memoryMb ?? 2048), '-smp', '2', '-nographic', '-no-reboot', '-nic', 'none',
        '-L', image.biosDir, '-L', join(cache, 'root', 'usr', 'share', 'qemu'),
        '-kernel', image.kernel, '-initrd', image.initrd,
        '-append', `console=ttyS0 panic=-1 quiet loglevel=4 edgenet.script=${opts.script} edgenet.out=${opts.outDir} edgenet.modules=${image.modulesDir} edgenet.cache=${cache} edgenet.repo=${opts.repo}${opts.filter ? ` edgenet.filter=${opts.filter}` : ''}`,
        '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap', '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
        '-fsdev', `local,id=repo,path=${opts.repo},security_model=none,readonly=on,multidevs=remap`, '-device', 'virtio-9p-pci,fsdev=repo,mount_tag=repo',
        '-fsdev', `local,id=out,path=${opts.outDir},security_model=none,multidevs=remap`, '-device', 'virtio-9p-pci,fsdev=out,mount_tag=out',
      ];
      const child = spawn(image.qemu, args, { env: { ...process.env, LD_LIBRARY_PATH: image.libPath }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ console: out, code, accel, ms: Date.now() - start });
      });
    });
  return boot(accel);
}
