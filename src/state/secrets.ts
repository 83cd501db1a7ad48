/**
 * Custom proxy credentials kept in the state database (the proxy service's ProxySecrets),
 * so that a custom proxy with credentials survives a restart. The row is the credentials
 * as JSON; deleting or replacing it leaves no copy in the files (StateStore.scrub).
 */
import type { ProxyCredentials } from '../model/types';
import type { StateStore } from './store';

/** ProxySecrets (src/proxy/secrets.ts) over the state database. */
export class StoredSecrets {
  constructor(private readonly store: Pick<StateStore, 'getProxySecret' | 'setProxySecret'>) {}

  /** The workspace's credentials, or null when it has none. */
  get(workspace: string): ProxyCredentials | null {
    const text = this.store.getProxySecret(workspace);
    if (text === null) return null;
    const { username, password } = JSON.parse(text) as ProxyCredentials;
    return { username, password };
  }

  /** Stores (replaces) the credentials of a stored workspace, durably. */
  async set(workspace: string, credentials: ProxyCredentials): Promise<void> {
    const { username, password } = credentials;
    this.store.setProxySecret(workspace, JSON.stringify({ username, password }));
  }

  /** Deletes them; no copy remains in the state directory's files. */
  async delete(workspace: string): Promise<void> {
    this.store.setProxySecret(workspace, null);
  }
}
