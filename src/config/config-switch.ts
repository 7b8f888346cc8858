import { z } from 'zod';

// Switch-NI fields of the config schema: spanning tree and BPDU guard (several ports on one switch NI).

const portName = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/, { error: 'must be a port name from ports' });

/** Several ports of one NI (`port` names one); for a switch NI allowed only with `stp`. */
export const niPortsSchema = z.array(portName, { error: 'must be a list of port names from ports' }).min(1, { error: 'must name at least one port' });

export const stpOptionsSchema = z.strictObject({
  /** seconds a port spends listening and again learning before it forwards (kernel: 2..30, default 15) */
  forwardDelay: z
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(2, { error: 'must be at least 2 (seconds; the kernel refuses less while STP runs)' })
    .max(30, { error: 'must be at most 30 (seconds)' })
    .optional(),
  /** ports of this NI on which a BPDU disables the port (leaf segments, untrusted downstream bridges) */
  portsWithBpduGuard: z.array(portName).default([]),
  /** guard every app interface of the NI as well (EVE does this for a switch NI with several ports) */
  guardApps: z.boolean({ error: 'must be true or false' }).default(false),
});

/** `stp: true` is `stp: {}`; `stp: false` (or absent) runs no spanning tree. */
export const stpSchema = z.union([z.boolean(), stpOptionsSchema], { error: 'must be true, false or { forwardDelay?, portsWithBpduGuard?, guardApps? }' });

export type StpInput = z.output<typeof stpSchema>;
export type StpOptions = z.output<typeof stpOptionsSchema>;

/** The options of an NI's `stp` field; undefined when it runs no spanning tree. */
export function stpOptions(stp: StpInput | undefined): StpOptions | undefined {
  if (stp === undefined || stp === false) return undefined;
  if (stp === true) return { portsWithBpduGuard: [], guardApps: false };
  return stp;
}

/** An app interface's access VLAN (EVE `accessVlanId`): 1 is the bridge's default VLAN, 4094/4095 reserved. */
export const accessVlanIdSchema = z
  .number({ error: 'must be a VLAN id (a number)' })
  .int({ error: 'must be a whole number' })
  .min(2, { error: 'must be a VLAN id from 2 to 4093 (1 is the bridge\'s untagged default; leave it out for a trunk)' })
  .max(4093, { error: 'must be a VLAN id from 2 to 4093' });

const portVid = z.number({ error: 'must be a VLAN id (a number)' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be a VLAN id from 1 to 4094' }).max(4094, { error: 'must be a VLAN id from 1 to 4094' });

/** Per port of a switch NI: an access port of one VLAN (untagged), or a trunk limited to some VLANs (tagged). */
export const vlanPortSchema = z.strictObject({
  port: portName,
  access: portVid.optional(),
  trunk: z.array(portVid).optional(),
});

/** The port names an NI uses, from `port` or `ports` (the checks refuse both at once). */
export function niPortNames(ni: { port?: string | undefined; ports?: readonly string[] | undefined }): string[] {
  return ni.ports ? [...ni.ports] : ni.port !== undefined ? [ni.port] : [];
}
