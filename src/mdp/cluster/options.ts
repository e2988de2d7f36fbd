/**
 * The federation's options from the broker's configuration (Node: reads the CURVE files). Loaded with
 * the federation, only in a cluster.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { curvePublicKey } from '../../crypto/keys.ts';
import { isZ85 } from '../../crypto/z85.ts';
import type { BrokerConfig } from '../config.ts';
import { MdpErrorCode, mdpError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { readCertificateFile } from '../security/certfile.ts';
import type { ClusterOptions } from './hook.ts';
import type { ClusterStrategy } from './strategy.ts';

/** ms a member may stay silent: a count of heartbeats, or a duration with its unit (config 'liveness'). */
export function livenessMs(text: string, heartbeatMs: number): number {
  if (/^\d+$/.test(text)) return Number(text) * heartbeatMs;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  if (!m) throw mdpError(MdpErrorCode.CONFIG, `cluster_liveness: ${text} is neither heartbeats nor a duration`, { issues: ['broker.cluster.cluster_liveness'] });
  return Math.round(Number(m[1]) * unit[m[2]!]!);
}

/**
 * The peer keys file: one admitted public key per line (Z85, 40 characters), optionally followed by
 * the cluster endpoint of the broker that holds it (needed for the brokers named by --peer, unless
 * the whole cluster shares one key); `#` at the start of a line or after a space starts a comment.
 */
export function parsePeerKeys(text: string, file: string): { key: string; endpoint: string | undefined }[] {
  const out: { key: string; endpoint: string | undefined }[] = [];
  const issues: string[] = [];
  text.split('\n').forEach((raw, i) => {
    // '#' is a Z85 digit: a comment starts a line, or follows whitespace
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    const [key, endpoint, ...rest] = line.split(/\s+/);
    if (key!.length !== 40 || !isZ85(key!)) issues.push(`${file}:${i + 1}: not a Z85 public key (40 characters): ${JSON.stringify(key)}`);
    else if (rest.length > 0) issues.push(`${file}:${i + 1}: KEY [ENDPOINT] expected, got more`);
    else out.push({ key: key!, endpoint });
  });
  if (issues.length > 0) throw mdpError(MdpErrorCode.CONFIG, `bad cluster peer keys file:\n  ${issues.join('\n  ')}`, { issues, file });
  if (out.length === 0) throw mdpError(MdpErrorCode.CONFIG, `${file}: no keys (nobody could join)`, { issues: [file], file });
  return out;
}

export function defaultNodeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 40) || 'broker';
  return `${host}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
}

export function clusterOptions(c: BrokerConfig, logger: Logger): ClusterOptions {
  let curve: ClusterOptions['curve'];
  if (c.clusterCurveSecretKeyFile !== null && c.clusterCurvePeerKeys !== null) {
    const { cert, warnings } = readCertificateFile(c.clusterCurveSecretKeyFile, { secret: true });
    for (const w of warnings) logger.warn('insecure certificate file', { file: c.clusterCurveSecretKeyFile, warning: w });
    let text: string;
    try {
      text = readFileSync(c.clusterCurvePeerKeys, 'utf8');
    } catch (err) {
      throw mdpError(MdpErrorCode.CONFIG, `cannot read cluster peer keys ${c.clusterCurvePeerKeys}: ${(err as Error).message}`, { issues: ['broker.cluster.cluster_curve_peer_keys'], cause: err });
    }
    const secretKey = cert.secretKey as string;
    curve = { secretKey, publicKey: curvePublicKey(secretKey), peers: parsePeerKeys(text, c.clusterCurvePeerKeys) };
  }
  return {
    bind: c.clusterBind!,
    peers: c.peer,
    clientEndpoints: [],
    nodeId: c.nodeId ?? defaultNodeId(),
    strategy: c.clusterStrategy as ClusterStrategy,
    heartbeatMs: c.clusterHeartbeat,
    livenessMs: livenessMs(c.clusterLiveness, c.clusterHeartbeat),
    localWaitMs: c.clusterLocalWait,
    curve,
    maxMessageBytes: c.maxMessageBytes,
    maxFrameSize: c.maxFrameSize,
    maxFrames: c.maxFrames,
    highWaterMark: Math.max(c.sendHighWaterMark, 1000),
    logger,
  };
}
