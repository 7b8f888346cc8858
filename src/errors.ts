// Errors are values with a kind: callers branch on `kind`, users read `message`.

export interface ConfigIssue {
  /** Where in the document, e.g. `networks[1].port`. Empty for the document itself. */
  path: string;
  /** The rule that was broken, in words. */
  message: string;
}

export class ConfigError extends Error {
  readonly kind = 'ConfigError' as const;
  constructor(readonly issues: readonly ConfigIssue[], readonly source?: string) {
    super(formatIssues(issues, source));
    this.name = 'ConfigError';
  }
}

export function formatIssues(issues: readonly ConfigIssue[], source?: string): string {
  const head = source ? `invalid config (${source})` : 'invalid config';
  const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  return lines.length === 1 ? `${head}: ${lines[0]}` : `${head}:\n  ${lines.join('\n  ')}`;
}

/** A kernel operation failed: names the operation, the object and the errno (e.g. EEXIST, ENODEV). */
export class KernelError extends Error {
  readonly kind = 'KernelError' as const;
  constructor(readonly operation: string, readonly object: string, readonly errno: string | undefined, detail?: string) {
    super(`${operation} ${object} failed${errno ? `: ${errno}` : ''}${detail ? ` (${detail})` : ''}`);
    this.name = 'KernelError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
