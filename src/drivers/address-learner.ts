// Which IPv4 address each MAC on a switch NI uses, learned from the apps' own traffic: a switch NI's addresses come
// from a DHCP server behind its port (or are static), so edgenet has no lease to read. EVE sniffs DHCP and ARP on
// the bridge (pillar nistate); edgenet lets the kernel do it: table `bridge edgenet` (its own table, so it never
// disturbs table `inet edgenet` and its audit) has one forward chain on the switch bridges that puts into timed
// sets what the bridge forwards: the sender MAC and IP of every ARP and IPv4 packet, and the client MAC (chaddr)
// and offered address (yiaddr) of every DHCP reply. The sets are read on demand; nothing is copied to userspace
// per packet.

export const LEARN_FAMILY = 'bridge';
export const LEARN_TABLE = 'edgenet';

export interface LearnedAddress {
  mac: string;
  ip: string;
  /** dhcp: from a DHCP reply to that MAC; traffic: the MAC sent from that address (ARP or IPv4) */
  source: 'dhcp' | 'traffic';
}

export interface AddressLearner {
  /** Learn on exactly these bridges (idempotent; one nft transaction); none: its chain and sets go (the table also holds anti-spoofing). */
  ensure(bridges: readonly string[]): Promise<void>;
  /** What has been learned (entries expire an hour after their last packet). */
  learned(): Promise<LearnedAddress[]>;
  /** Removes its chain and sets (teardown; absent is success). */
  remove(): Promise<void>;
}
