import { pino } from 'pino';
import { ConfigError, createEdgenet, type ConfigInput, type Transition } from 'edgenet';

// One edgenet per device agent; nothing touches the kernel before the first apply(). State: /var/lib/edgenet
// (last good config, reservations), runtime files in /run/edgenet — the defaults.
const net = createEdgenet({ logger: pino({ level: 'info' }) });

// Every state change of every NI, endpoint and port, with the reason when it is not `ready`.
net.transitions$.subscribe((t: Transition) => {
  console.log(`${t.at} ${t.kind} ${t.name}: ${t.from ?? '(new)'} → ${t.to}${t.reason ? ` (${t.reason})` : ''}`);
});
// The whole status: the current one at once, then after changes (throttled: first and last of each burst).
net.status$.subscribe((s) => {
  const degraded = s.networks.filter((n) => n.state === 'degraded').map((n) => `${n.name}: ${n.reason ?? '?'}`);
  if (degraded.length > 0) console.warn(`degraded: ${degraded.join(', ')}`);
});

const config: ConfigInput = {
  ports: [{ name: 'uplink', ifname: 'eth1' }],
  networks: [{ name: 'lan', type: 'local', port: 'uplink', subnet: '10.50.0.0/24', dns: { forwarders: ['1.1.1.1'] } }],
  apps: [{ name: 'web', interfaces: [{ network: 'lan', netns: '/run/netns/web' }] }],
};

try {
  // resolves once every affected actor has settled (ready, degraded, or pending on the outside world)
  const result = await net.apply(config);
  console.log(`created ${result.created.join(', ') || '-'}; updated ${result.updated.join(', ') || '-'}; deleted ${result.deleted.join(', ') || '-'}`);
} catch (err) {
  // bad input changes nothing: the running config stays as it was
  if (!(err instanceof ConfigError)) throw err;
  for (const issue of err.issues) console.error(`${issue.path}: ${issue.message}`);
}

const web = net.status().endpoints.find((e) => e.app === 'web');
console.log(`web is ${web?.state} at ${web?.ip ?? '?'} (${web?.mac ?? '?'})`);

// On shutdown: stop the actors, leave the data plane running (a restart adopts it). teardown() would remove it.
process.once('SIGTERM', () => void net.stop());
