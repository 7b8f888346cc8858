// The bench's hand inside one namespace: a resident process (started under `nsenter --net=...`) that flips
// carriers, deletes and creates links over rtnetlink on request. Resident, so an event's timestamp is taken
// right before the kernel request, not before an `ip` process is spawned (that spawn is measured apart).
// Protocol: one JSON request per stdin line, one JSON answer per stdout line:
//   { id, op: 'down' | 'up' | 'del', ifname }  |  { id, op: 'veth', ifname, peer, peerNetns }
//   → { id, ok, t0, t1, error? }   t0/t1: wall-clock ms (fractional) just before the request / after the ack
//   { id, op: 'watch', ifname }: from now on, the kernel's link events for ifname are noted (their carrier, and when
//   they were read); { id, op: 'seen', ifname } → { id, ok, t0, t1, seen: [{ t, carrier }] }: those noted since
//   the last 'seen' (then forgotten). The kernel's own timing of a carrier change, as another listener reads it.
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { AttrStream, createRtNetlink, ifla, rt } from 'netlink';
import type { StreamData } from 'netlink';

const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

interface Request {
  id: number;
  op: 'down' | 'up' | 'del' | 'veth' | 'watch' | 'seen';
  ifname: string;
  peer?: string;
  peerNetns?: string;
}

const nl = createRtNetlink();
const index = new Map<string, number>();
// wall clock with sub-ms resolution (Date.now() truncates): same clock as the daemon's transition `at`
const now = (): number => performance.timeOrigin + performance.now();

function encode(data: StreamData): Buffer {
  const s = new AttrStream();
  s.emit(data);
  return Buffer.concat(s.bufs);
}

async function ifindexOf(ifname: string): Promise<number> {
  const known = index.get(ifname);
  if (known !== undefined) return known;
  const [msg] = await nl.getLink({}, { ifname });
  const i = msg?.data.index;
  if (i === undefined) throw new Error(`no link ${ifname}`);
  index.set(ifname, i);
  return i;
}

interface Seen {
  t: number;
  carrier: boolean;
}
const watched = new Map<string, Seen[]>();
let events: ReturnType<typeof createRtNetlink> | undefined;

function watch(ifname: string): void {
  watched.set(ifname, []);
  if (events) return;
  events = createRtNetlink();
  events.addMembership('LINK');
  events.on('message', (msgs) => {
    const t = now();
    for (const m of msgs) {
      if (m.kind !== 'link' || m.data.family !== 0) continue;
      const seen = m.attrs.ifname !== undefined ? watched.get(m.attrs.ifname) : undefined;
      seen?.push({ t, carrier: m.attrs.carrier === 1 });
    }
  });
}

async function handle(req: Request): Promise<{ t0: number; t1: number; seen?: Seen[] }> {
  if (req.op === 'watch') {
    watch(req.ifname);
    return { t0: now(), t1: now() };
  }
  if (req.op === 'seen') {
    const seen = watched.get(req.ifname) ?? [];
    watched.set(req.ifname, []);
    return { t0: now(), t1: now(), seen };
  }
  if (req.op === 'up' || req.op === 'down') {
    const i = await ifindexOf(req.ifname);
    const t0 = now();
    await nl.setLink({ index: i, flags: req.op === 'up' ? { up: true } : {}, change: { up: true } });
    return { t0, t1: now() };
  }
  if (req.op === 'del') {
    const i = await ifindexOf(req.ifname);
    index.delete(req.ifname);
    const t0 = now();
    await nl.delLink({ index: i });
    return { t0, t1: now() };
  }
  // a hypervisor's tap coming back: a veth named like the tap, its peer created straight in the VM's namespace
  const fd = openSync(req.peerNetns ?? '', 'r');
  try {
    const peer = Buffer.concat([rt.formatLink({}), encode(ifla.formatLinkAttrs({ ifname: req.peer ?? '', netNsFd: fd }))]);
    const linkinfo = encode(ifla.formatInfo({ kind: 'veth', data: encode(ifla.formatVethInfo({ peer })) }));
    const t0 = now();
    await nl.newLink({}, { ifname: req.ifname, linkinfo }, { flags: NLM_F_CREATE | NLM_F_EXCL });
    return { t0, t1: now() };
  } finally {
    closeSync(fd);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const req = JSON.parse(line) as Request;
  handle(req).then(
    (t) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: true, ...t })}\n`),
    (err: unknown) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: false, t0: 0, t1: 0, error: String(err) })}\n`),
  );
});
lines.on('close', () => {
  nl.socket.close();
  events?.socket.close();
});
process.stdout.write(`${JSON.stringify({ id: 0, ok: true, t0: now(), t1: now() })}\n`);
