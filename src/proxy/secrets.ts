/**
 * Where proxy credentials live, apart from the desired state: the stored policy says only
 * `has_credentials`, so that it can be logged, returned and written without a secret.
 */
import type { ProxyCredentials } from '../model/types';

/** The credentials of each workspace's custom proxy. */
export interface ProxySecrets {
  /** The workspace's credentials, or null when it has none. */
  get(workspace: string): ProxyCredentials | null;
  /** Stores (replaces) the workspace's credentials. */
  set(workspace: string, credentials: ProxyCredentials): Promise<void>;
  /** Forgets them for good: after this no copy remains where the store keeps them. */
  delete(workspace: string): Promise<void>;
}

/**
 * Credentials held in memory only: nothing reaches the disk, and a restart forgets them.
 * For tests and tools; the daemon keeps them in the state database (StoredSecrets,
 * src/state/secrets.ts), so that a custom proxy with credentials survives a restart.
 */
export class MemorySecrets implements ProxySecrets {
  private readonly byWorkspace = new Map<string, ProxyCredentials>();

  /** See ProxySecrets.get. */
  get(workspace: string): ProxyCredentials | null {
    const found = this.byWorkspace.get(workspace);
    return found ? { ...found } : null;
  }

  /** See ProxySecrets.set. */
  async set(workspace: string, credentials: ProxyCredentials): Promise<void> {
    this.byWorkspace.set(workspace, { ...credentials });
  }

  /** See ProxySecrets.delete. */
  async delete(workspace: string): Promise<void> {
    this.byWorkspace.delete(workspace);
  }
}
