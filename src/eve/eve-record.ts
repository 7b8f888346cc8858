import type { Status } from '../edgenet-types.ts';
import { eveErrorsOf } from './eve-object-errors.ts';
import type { EveConversion } from './eve-types.ts';

/**
 * What the running config came from when it was an EVE document: its findings (refused NIs, ignored fields), the
 * names it mapped (uuid/displayname → edgenet name, the taps the hypervisor must create) and the objects not built.
 * GET /v1/status shows it beside the status, so an operator sees why an NI of the controller's document is not there.
 */
export class EveRecord {
  private conversion: Pick<EveConversion, 'findings' | 'names' | 'errors' | 'sources'> | undefined;

  /** After a successful apply: the document's conversion, or undefined for an edgenet config. */
  applied(eve: Pick<EveConversion, 'findings' | 'names' | 'errors' | 'sources'> | undefined): void {
    this.conversion = eve;
  }

  get current(): Pick<EveConversion, 'findings' | 'names' | 'errors' | 'sources'> | undefined {
    return this.conversion;
  }

  /** `status.eve` for a status of the core: the conversion, with the app interfaces the core refuses now. */
  statusOf(status: Status): Status {
    const c = this.conversion;
    if (!c) return status;
    const { errors, names } = eveErrorsOf(c, status.refused ?? []);
    return { ...status, eve: { findings: c.findings, names, errors } };
  }
}
