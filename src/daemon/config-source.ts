// Who writes the running config. With `edgenet run -c FILE` the file is the source of truth: a valid API push that
// differs from it is refused (409, naming the file) — unless the daemon runs with --allow-api-push, or without -c
// (then the API is the only writer). Validation comes first: a bad push is a 400 either way. Status says where the
// running config came from.

/** Where the running config came from (GET /v1/status `source`). */
export interface ConfigSource {
  /** `file`: the -c file; `api`: PUT /v1/config; `last-good`: resumed from the state dir's last good config */
  kind: 'file' | 'api' | 'last-good';
  /** the file (kind file: the -c file; last-good: the state dir's config.json) */
  file?: string;
  /** ISO time of that apply */
  at: string;
}

/** A push the daemon refuses because another source owns the config (HTTP 409). */
export class PushRefusedError extends Error {
  readonly kind = 'PushRefused' as const;
  constructor(readonly file: string) {
    super(
      `the running config is owned by the file ${file} (edgenet run -c): edit that file (it is re-applied on change, or on SIGHUP), or run the daemon with --allow-api-push`,
    );
    this.name = 'PushRefusedError';
  }
}

/**
 * Tracks the source of the running config and decides about pushes. `canonical` is the validated config as JSON,
 * so a push identical to the file (in any key order or format) is accepted as the no-op it is.
 */
export class ConfigOwnership {
  private current: ConfigSource | undefined;
  private fileConfig: string | undefined;

  constructor(
    /** the -c file, when the daemon runs on one */
    private readonly file: string | undefined,
    /** --allow-api-push */
    private readonly allowApiPush: boolean,
  ) {}

  get source(): ConfigSource | undefined {
    return this.current;
  }

  /** Whether pushes must be compared with the file at all (they need validating first then). */
  get guarded(): boolean {
    return this.file !== undefined && !this.allowApiPush;
  }

  /** A config from the file (or the resumed last good config) is running. */
  appliedFromFile(kind: 'file' | 'last-good', file: string, canonical: string | undefined): void {
    this.current = { kind, file, at: new Date().toISOString() };
    if (kind === 'file') this.fileConfig = canonical;
  }

  appliedFromApi(): void {
    // guarded, a push got through only because it is the file's config: the file is still the source
    if (this.guarded) return;
    this.current = { kind: 'api', at: new Date().toISOString() };
  }

  /** Throws PushRefusedError when the file owns the config and the (validated, canonical) push differs from it. */
  checkPush(canonical: string): void {
    if (!this.guarded || this.file === undefined) return;
    if (canonical !== this.fileConfig) throw new PushRefusedError(this.file);
  }
}
