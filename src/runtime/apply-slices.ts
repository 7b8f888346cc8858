// A big push is handed to the system actor in slices, with the event loop free between them: spawning 1000 actors
// in one APPLY held the loop for about a second (status, link events and audits waited). The system actor handles
// a plan's parts in a fixed order (member deletions, NI deletions, NI updates and creations, member updates, member
// creations), so the slices keep that order: the NIs and every deletion first, then member updates and creations
// `size` at a time. Applied one after the other they do what the whole plan does.
import { setImmediate as yieldLoop } from 'node:timers/promises';
import type { Plan } from '../../machines/system.machine.ts';

/** Members per APPLY slice: ~50 ms of actor spawning on the 2-core test machine. */
export const APPLY_SLICE = 100;

export function slicePlan(plan: Plan, size = APPLY_SLICE): Plan[] {
  const { update, create } = plan.members;
  if (update.length + create.length <= size) return [plan];
  const slices: Plan[] = [{ networks: plan.networks, members: { delete: plan.members.delete, update: [], create: [] } }];
  const empty = { create: [], update: [], delete: [] };
  for (let i = 0; i < update.length; i += size) slices.push({ networks: empty, members: { delete: [], update: update.slice(i, i + size), create: [] } });
  for (let i = 0; i < create.length; i += size) slices.push({ networks: empty, members: { delete: [], update: [], create: create.slice(i, i + size) } });
  return slices;
}

/** Sends each slice, yielding to the event loop (I/O included) between two. */
export async function sendPlanInSlices(send: (plan: Plan) => void, plan: Plan, size = APPLY_SLICE): Promise<void> {
  const slices = slicePlan(plan, size);
  for (let i = 0; i < slices.length; i++) {
    if (i > 0) await yieldLoop();
    send(slices[i] as Plan);
  }
}
