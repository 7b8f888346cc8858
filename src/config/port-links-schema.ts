import { z } from 'zod';

// Ports that edgenet creates itself (EVE's vlans[] and bonds[]): a VLAN sub-interface of a parent link, or a bond of
// member links. `ports[].ifname` is the name of the link edgenet makes (and marks, and removes when no NI uses it).

const ifname = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z0-9_.-]{1,15}$/, { error: 'must be an interface name: [A-Za-z0-9_.-]{1,15}' })
  .refine((n) => n !== '.' && n !== '..', { error: 'must not be "." or "..": Linux refuses them as interface names' });

const int = (what: string, min: number, max: number) =>
  z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).min(min, { error: `${what} must be at least ${min}` }).max(max, { error: `${what} must be at most ${max}` });

/** `ports[].vlan`: an 802.1Q sub-interface `ifname` of `parent` carrying VLAN `id` (tagged on the parent). */
export const portVlanSchema = z.strictObject({
  /** the lower link: a NIC, or another port's ifname (a bond) */
  parent: ifname,
  id: z
    .number({ error: 'must be a VLAN id (a number)' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be a VLAN id from 1 to 4094' })
    .max(4094, { error: 'must be a VLAN id from 1 to 4094' }),
});

/** The kernel's bonding modes (EVE BondMode, in the kernel's words). */
export const BOND_MODES = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'] as const;
export type BondMode = (typeof BOND_MODES)[number];

/** `ports[].bond`: a bond `ifname` over `members` (their own config is the bond's while it holds them). */
export const portBondSchema = z.strictObject({
  members: z.array(ifname, { error: 'must be a list of interface names' }).min(1, { error: 'must name at least one member link' }),
  /** default balance-rr (the kernel's, and EVE's BOND_MODE_UNSPECIFIED) */
  mode: z.enum(BOND_MODES, { error: `must be one of ${BOND_MODES.join(', ')}` }).default('balance-rr'),
  /** MII link monitoring interval in ms (0: off, the kernel's default) */
  miimon: int('miimon', 0, 60_000).optional(),
  /** ms a member's link must be up before it is used (a multiple of miimon) */
  upDelay: int('upDelay', 0, 600_000).optional(),
  /** ms a member's link must be down before it is dropped (a multiple of miimon) */
  downDelay: int('downDelay', 0, 600_000).optional(),
  /** LACPDU rate asked of the partner: 802.3ad only (default slow) */
  lacpRate: z.enum(['slow', 'fast'], { error: 'must be slow or fast' }).optional(),
});

export type PortVlan = z.output<typeof portVlanSchema>;
export type PortBond = z.output<typeof portBondSchema>;
