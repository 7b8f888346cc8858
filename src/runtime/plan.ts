import type { Plan } from '../../machines/system.machine.ts';
import type { PortSpec } from '../../machines/specs.ts';
import type { ConfigDiff } from '../config/config-diff.ts';
import type { EndpointSpec, PortSpecResolved } from '../config/config-resolve.ts';

// A config diff becomes one plan for the system actor: only what changed is in it.

export function portMember(p: PortSpecResolved): PortSpec {
  return { key: `port:${p.name}`, kind: 'port', ...p };
}

/** `allEndpoints`: every endpoint of the new config, asked for only when an NI is rebuilt. */
export function planFromDiff(diff: ConfigDiff, allEndpoints: () => readonly EndpointSpec[]): Plan {
  const plan: Plan = {
    networks: { create: [], update: [], delete: [] },
    members: { create: [], update: [], delete: [] },
  };
  // NIs that go away (removed, or rebuilt): their app endpoints go first and, when still configured, come back.
  const rebuilt = new Set<string>();
  for (const r of diff.networks.removed) {
    plan.networks.delete.push(r.key);
    rebuilt.add(r.key);
  }
  for (const c of diff.networks.changed) {
    if (c.recreate) {
      plan.networks.delete.push(c.key);
      plan.networks.create.push(c.after);
      rebuilt.add(c.key);
    } else {
      plan.networks.update.push({ spec: c.after, fields: c.fields });
    }
  }
  for (const n of diff.networks.added) plan.networks.create.push(n);

  const handled = new Set<string>();
  for (const r of diff.endpoints.removed) {
    plan.members.delete.push(r.key);
    handled.add(r.key);
  }
  for (const c of diff.endpoints.changed) {
    handled.add(c.key);
    if (c.recreate || rebuilt.has(c.after.network)) {
      plan.members.delete.push(c.key);
      plan.members.create.push(c.after);
    } else {
      plan.members.update.push({ spec: c.after, fields: c.fields });
    }
  }
  for (const e of diff.endpoints.added) {
    plan.members.create.push(e);
    handled.add(e.key);
  }
  // unchanged endpoints of a rebuilt NI are rebuilt with it (none rebuilt: nothing to look through)
  for (const e of rebuilt.size > 0 ? allEndpoints() : []) {
    if (!handled.has(e.key) && rebuilt.has(e.network)) {
      plan.members.delete.push(e.key);
      plan.members.create.push(e);
    }
  }

  for (const r of diff.ports.removed) plan.members.delete.push(`port:${r.key}`);
  for (const c of diff.ports.changed) {
    const spec = portMember(c.after);
    if (c.recreate) {
      plan.members.delete.push(spec.key);
      plan.members.create.push(spec);
    } else {
      plan.members.update.push({ spec, fields: c.fields });
    }
  }
  for (const p of diff.ports.added) plan.members.create.push(portMember(p));
  return plan;
}

export function planSize(plan: Plan): number {
  const { networks: n, members: m } = plan;
  return n.create.length + n.update.length + n.delete.length + m.create.length + m.update.length + m.delete.length;
}
