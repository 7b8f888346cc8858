// AddressLearner in memory: tests say what the bridges saw with `see()`.
import type { AddressLearner, LearnedAddress } from './address-learner.ts';

export class FakeAddressLearner implements AddressLearner {
  bridges: string[] = [];
  private readonly seen: LearnedAddress[] = [];

  async ensure(bridges: readonly string[]): Promise<void> {
    this.bridges = [...bridges].sort();
  }

  async learned(): Promise<LearnedAddress[]> {
    return this.bridges.length === 0 ? [] : [...this.seen];
  }

  async remove(): Promise<void> {
    this.bridges = [];
    this.seen.length = 0;
  }

  /** A packet from `mac` with `ip` crossed a learning bridge. */
  see(mac: string, ip: string, source: LearnedAddress['source'] = 'traffic'): void {
    this.seen.push({ mac: mac.toLowerCase(), ip, source });
  }
}
