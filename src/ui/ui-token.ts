// The secret that guards the live view and the Stately inspector (like Jupyter's token): random per daemon start,
// written to `<runtime-dir>/ui-token` mode 0600 so only root can read it; `<runtime-dir>/ui.json` (0600 too) says
// where the views are served, for `edgenet ui-url`. Both files go when the daemon stops.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';

export const UI_TOKEN_FILE = 'ui-token';
export const UI_INFO_FILE = 'ui.json';

export interface UiInfo {
  /** the live view, without the token: `http://127.0.0.1:8788/` */
  url?: string;
  /** the Stately inspector bridge page, without the token */
  inspectorUrl?: string;
  pid: number;
}

export function newUiToken(): string {
  return randomBytes(24).toString('base64url');
}

export async function writeUiFiles(runtimeDir: string, token: string, info: UiInfo): Promise<void> {
  await writeFileAtomic(join(runtimeDir, UI_TOKEN_FILE), `${token}\n`, 0o600);
  await writeFileAtomic(join(runtimeDir, UI_INFO_FILE), `${JSON.stringify(info)}\n`, 0o600);
}

export async function removeUiFiles(runtimeDir: string): Promise<void> {
  await rm(join(runtimeDir, UI_TOKEN_FILE), { force: true });
  await rm(join(runtimeDir, UI_INFO_FILE), { force: true });
}

export async function readUiFiles(runtimeDir: string): Promise<{ token: string; info: UiInfo }> {
  const [token, info] = await Promise.all([readFile(join(runtimeDir, UI_TOKEN_FILE), 'utf8'), readFile(join(runtimeDir, UI_INFO_FILE), 'utf8')]);
  return { token: token.trim(), info: JSON.parse(info) as UiInfo };
}

/** The token a request carries: `?token=` or `Authorization: token …` / `Bearer …`. */
export function requestToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const m = auth ? /^(?:token|bearer)\s+(\S+)$/i.exec(auth) : null;
  if (m?.[1]) return m[1];
  try {
    return new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
  } catch {
    return undefined;
  }
}

/** Constant-time comparison with the expected token. */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
