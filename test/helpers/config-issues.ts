// The issues of the ConfigError a call throws: table-driven bad-input tests assert on path and message.
import { expect } from 'vitest';
import { ConfigError, type ConfigIssue } from '../../src/errors.ts';

export function issuesOf(run: () => unknown): readonly ConfigIssue[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError, the input was accepted');
}
