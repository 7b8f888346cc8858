import type { EveApplyExtras, EveConversion } from './eve-types.ts';

/**
 * What the running config came from when it was an EVE document: its findings (refused NIs, ignored fields) and
 * the names it mapped (uuid/displayname → edgenet name, the taps the hypervisor must create). GET /v1/status shows
 * it beside the status, so an operator sees why an NI of the controller's document is not there.
 */
export class EveRecord {
  private extras: EveApplyExtras | undefined;

  /** After a successful apply: the document's conversion, or undefined for an edgenet config. */
  applied(eve: Pick<EveConversion, 'findings' | 'names'> | undefined): void {
    this.extras = eve ? { findings: eve.findings, eve: eve.names } : undefined;
  }

  get current(): EveApplyExtras | undefined {
    return this.extras;
  }
}
