// Port forwarding into a local NI on the real kernel: from outside, hairpin from apps, a renumbered port, costs.
import { beforeEach, expect, it } from 'vitest';
import { daemonTest, TestDaemon } from '../helpers/daemon.ts';
import { dhcpLease } from '../helpers/dhcp.ts';
import { describeKernel, eventually, type Netns } from '../helpers/netns.ts';
import { connects, serveHello } from '../helpers/http.ts';

describeKernel('port forwarding (kernel)', () => {
  const t = daemonTest();
  let daemon: TestDaemon | undefined;
  let dev: Netns, web: Netns, peer: Netns, other: Netns, api: Netns, outside: Netns;

  const config = (withApi = false): string => `ports:
  - { name: up0, ifname: eth1 }
networks:
  - { name: lan, type: local, port: up0, subnet: 10.50.0.0/24 }
  - { name: lab, type: local, subnet: 10.60.0.0/24 }
apps:
  - name: web
    interfaces:
      - network: lan
        netns: ${web.path}
        ip: 10.50.0.10
        acls:
          - { match: { protocol: tcp, lport: 8080 }, action: portmap, appPort: 80 }
  - { name: peer, interfaces: [{ network: lan, netns: ${peer.path} }] }
  - { name: other, interfaces: [{ network: lab, netns: ${other.path} }] }
${withApi ? `  - { name: api, interfaces: [{ network: lan, netns: ${api.path}, acls: [{ match: { protocol: tcp, lport: 8443 }, action: portmap, appPort: 443 }, { match: { ip: 192.168.77.0/24 } }] }] }\n` : ''}`;

  beforeEach(async () => {
    ({ dev, web, peer, other, api, out: outside } = await t.namespaces(['dev', 'web', 'peer', 'other', 'api', 'out'], { uplink: true }));
  });


  it('lport 8080 on the port address reaches the app\'s tcp 80: from outside, from apps (hairpin), after renumbering', async () => {
    daemon = await TestDaemon.start(dev, config());
    await dhcpLease(web);
    await dhcpLease(peer);
    await dhcpLease(other);
    t.children.push(await serveHello(web, '10.50.0.10', 80));
    await eventually('httpd in the app', async () => (await web.exec('curl', ['-s', '--max-time', '1', 'http://10.50.0.10/'])).stdout.includes('hello'));

    // from a host behind the port, to the device's port address
    expect(await connects(outside, '192.168.77.1', 8080)).toBe(true);
    // only the forwarded port: the app's own port 80 stays closed from outside (even with a route to the subnet)
    await outside.ip('route', 'add', '10.50.0.0/24', 'via', '192.168.77.1');
    expect(await connects(outside, '10.50.0.10', 80)).toBe(false);
    expect(await connects(outside, '192.168.77.1', 8081)).toBe(false);
    // hairpin: an app on another local NI, and a neighbour on the same NI, through the port address (a port-less NI
    // offers no router by DHCP: that app routes to the device's addresses through its gateway on its own)
    await other.ip('route', 'replace', 'default', 'via', '10.60.0.1');
    expect(await connects(other, '192.168.77.1', 8080)).toBe(true);
    expect(await connects(peer, '192.168.77.1', 8080)).toBe(true);

    // the port is renumbered (DHCP on the uplink, say): the forward works on the new address with no push
    const writes = (await daemon.status()).writes;
    await dev.ip('addr', 'del', '192.168.77.1/24', 'dev', 'eth1');
    await dev.ip('addr', 'add', '192.168.77.5/24', 'dev', 'eth1');
    expect(await eventually('the forward on the new address', () => connects(outside, '192.168.77.5', 8080))).toBe(true);
    expect(await connects(other, '192.168.77.5', 8080)).toBe(true);
    expect(await connects(outside, '192.168.77.1', 8080)).toBe(false);
    // a port flap costs nothing either
    await dev.ip('link', 'set', 'eth1', 'down');
    await eventually('port down seen', async () => (await daemon?.status())?.ports.find((p) => p.name === 'up0')?.carrier === false);
    await dev.ip('link', 'set', 'eth1', 'up');
    await eventually('port up seen', async () => (await daemon?.status())?.ports.find((p) => p.name === 'up0')?.carrier === true);
    expect(await eventually('the forward after the flap', () => connects(outside, '192.168.77.5', 8080))).toBe(true);
    expect((await daemon.status()).writes.nft).toBe(writes.nft);
    const rule = (await daemon.status()).endpoints.find((e) => e.app === 'web')?.rules?.find((r) => r.rule === '1');
    expect(rule?.action).toBe('portmap');

    // one more app with its ACLs: one nft transaction
    await dhcpLease(web); // (the app side is not touched by the push; just a sanity check that it still serves)
    const before = (await daemon.status()).writes.nft;
    await daemon.apply(config(true));
    const after = (await daemon.status()).writes.nft;
    console.log(`one more app with ACLs: ${after - before} nft write(s); port renumbering + flap: 0`);
    expect(after - before).toBe(1);
  });
});
