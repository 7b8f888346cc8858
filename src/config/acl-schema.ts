import { z } from 'zod';

// ACLs of an app interface (`apps[].interfaces[].acls`): ordered rules, EVE's access control entries in native form.
// Matches are ANDed (none: every packet); the first rule that matches decides. With `acls` present (even empty) the
// interface gets only what its rules allow plus what is always allowed (DHCP, DNS to the gateway); without `acls`
// a native interface keeps what its network instance allows.

const port = z
  .number({ error: 'must be a port number 1–65535' })
  .int({ error: 'must be a port number 1–65535' })
  .min(1, { error: 'must be a port number 1–65535' })
  .max(65535, { error: 'must be a port number 1–65535' });

/** `tcp`, `udp`, `icmp`, `all`, or an IP protocol number 0–255. */
export const aclProtocolSchema = z.union(
  [
    z.enum(['tcp', 'udp', 'icmp', 'all']),
    z.number().int().min(0).max(255),
  ],
  { error: 'must be "tcp", "udp", "icmp", "all" or an IP protocol number 0–255' },
);

// An IPv4 address or prefix (a bare address is a /32).
const ipOrCidr = z
  .string({ error: 'must be an IPv4 address or prefix such as 192.0.2.0/24' })
  .refine((s) => z.ipv4().safeParse(s).success || z.cidrv4().safeParse(s).success, { error: 'must be an IPv4 address or prefix such as 192.0.2.0/24' });

// A DNS name as dnsmasq's nftset= takes it: labels of [a-z0-9-], dots between.
const hostName = z
  .string({ error: 'must be a DNS name such as example.com' })
  .regex(/^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/, {
    error: 'must be a DNS name such as example.com',
  })
  .transform((s) => s.toLowerCase());

export const aclMatchSchema = z.strictObject(
  {
    /** remote endpoint: destination going out, source coming in */
    ip: ipOrCidr.optional(),
    /** remote endpoint by DNS name (and its subdomains): the addresses the app looked up through the NI's dnsmasq */
    host: hostName.optional(),
    protocol: aclProtocolSchema.optional(),
    /** the app's own port (source going out, destination coming in); for `portmap`, the port exposed on the device */
    lport: port.optional(),
    /** the remote port (destination going out, source coming in) */
    fport: port.optional(),
    /** a port name (from `ports`): the rule applies to traffic arriving through it only */
    adapter: z.string({ error: 'must be a port name from ports' }).optional(),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown match type ${iss.keys.map((k) => `"${k}"`).join(', ')}: one of ip, host, protocol, lport, fport, adapter` : undefined) },
);

const limitSchema = z.strictObject({
  rate: z.number({ error: 'must be a number of packets' }).int({ error: 'must be an integer' }).min(1, { error: 'must be at least 1 (a rate of 0 lets nothing through: use action drop)' }),
  unit: z.enum(['second', 'minute', 'hour', 'day'], { error: 'must be "second", "minute", "hour" or "day"' }).default('second'),
  /** packets allowed at once above the rate (default: the rate) */
  burst: z.number({ error: 'must be a number of packets' }).int({ error: 'must be an integer' }).min(1, { error: 'must be at least 1' }).optional(),
});

export const aclRuleSchema = z
  .strictObject({
    /** shown in status and metrics (`rule` label); default: the rule's position, from 1 */
    id: z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).min(1, { error: 'must be at least 1' }).max(16_777_215, { error: 'must fit 24 bits' }).optional(),
    match: aclMatchSchema.default({}),
    action: z.enum(['allow', 'drop', 'limit', 'portmap'], { error: 'must be "allow", "drop", "limit" or "portmap"' }).default('allow'),
    /** action limit: token bucket */
    limit: limitSchema.optional(),
    /** action portmap: the app's port that `match.lport` on the device's port address forwards to */
    appPort: port.optional(),
  })
  .superRefine((rule, ctx) => {
    const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
    const p = rule.match.protocol;
    const ported = p === 'tcp' || p === 'udp' || p === 6 || p === 17;
    if ((rule.match.lport !== undefined || rule.match.fport !== undefined) && !ported) {
      issue(['match', rule.match.lport !== undefined ? 'lport' : 'fport'], 'a port match needs protocol "tcp" or "udp" in the same rule');
    }
    if (rule.action === 'limit' && rule.limit === undefined) issue(['limit'], 'action limit needs limit: { rate, unit, burst }');
    if (rule.action !== 'limit' && rule.limit !== undefined) issue(['limit'], `limit is only for action limit (this rule's action is ${rule.action})`);
    if (rule.action === 'portmap') {
      if (rule.appPort === undefined) issue(['appPort'], 'action portmap needs appPort (the app\'s port to forward to)');
      if (!ported) issue(['match', 'protocol'], 'action portmap needs protocol "tcp" or "udp"');
      if (rule.match.lport === undefined) issue(['match', 'lport'], 'action portmap needs lport (the port exposed on the device)');
      if (rule.match.host !== undefined) issue(['match', 'host'], 'action portmap cannot match host');
    } else if (rule.appPort !== undefined) {
      issue(['appPort'], `appPort is only for action portmap (this rule's action is ${rule.action})`);
    }
  });

export type AclRuleInput = z.input<typeof aclRuleSchema>;
export type AclRuleSpec = z.output<typeof aclRuleSchema>;
export type AclMatch = z.output<typeof aclMatchSchema>;
