// Placeholder for kernel work: machines are pure, src/ provides the real actors (tests provide fakes).
export function notProvided(name: string): () => Promise<never> {
  return () => Promise.reject(new Error(`actor "${name}" was not provided`));
}
