/**
 * ZAP handlers per domain, inside one process. RFC 27 allows one ZAP handler per process
 * (inproc://zeromq.zap.01), so when the broker's own Authenticator is running, a second socket with
 * its own rules (the cluster ROUTER, domain `purezmq.cluster`) registers them here and the running
 * Authenticator hands that domain's requests over.
 */
import type { AuthRequest, AuthVerdict } from '../../mod.ts';

export type DomainHandler = (req: AuthRequest) => AuthVerdict | Promise<AuthVerdict>;

export const zapDomains = new Map<string, DomainHandler>();
