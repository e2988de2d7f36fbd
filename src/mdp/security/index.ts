/**
 * The broker's security, as broker.ts sees it: a few types and one entry point. Everything that reads
 * files (certificates, the policy, the passwords file) is in setup.ts, imported only when the
 * configuration asks for security, so that a broker without it never loads node:fs.
 */
import type { SocketOptions } from '../../mod.ts';
import type { BrokerConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { AccessControl } from './access.ts';

/** What the broker needs from its security set-up. */
export interface BrokerSecurity {
  /** Options for the broker's ROUTER, set before the first bind (every endpoint gets them). */
  readonly socketOptions: Partial<SocketOptions>;
  /** Present when an access policy is configured. */
  readonly access: AccessControl | undefined;
  /** One line for the start-up log. */
  readonly summary: Record<string, unknown>;
  /** Re-reads the policy file and the certificate directory (`force`, the default: even if they look unchanged). */
  reload(force?: boolean): Promise<ReloadOutcome>;
  close(): Promise<void>;
}

export interface ReloadOutcome {
  policy: 'unchanged' | 'reloaded' | 'rejected' | 'none';
  certificates: 'unchanged' | 'reloaded' | 'none';
  /** Why a new policy was rejected. */
  issues?: string[];
}

/** Whether the configuration asks for any security at all. */
export function wantsSecurity(c: BrokerConfig): boolean {
  return c.curveCert !== null || c.curveClients !== null || c.plainPasswords !== null || c.allow.length > 0 || c.deny.length > 0 || c.accessPolicy !== null || c.access !== null;
}

/** The broker's security from its configuration, or undefined when it asks for none. */
export async function openSecurity(config: BrokerConfig, options: { logger: Logger; configFile?: string }): Promise<BrokerSecurity | undefined> {
  if (!wantsSecurity(config)) return undefined;
  const { openBrokerSecurity } = await import('./setup.ts');
  return openBrokerSecurity(config, options);
}
