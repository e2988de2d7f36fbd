/**
 * Cluster settings: every field has a flag, a YAML key under broker.cluster and an env variable, is
 * validated like the others, and the combinations that make no sense are refused up front.
 */
import { describe, expect, it } from 'vitest';
import { defaultConfigYaml, DEFAULT_CONFIG, resolveConfig } from '../../src/mdp/config.ts';
import { Broker } from '../../src/mdp/mod.ts';
import { livenessMs, parsePeerKeys } from '../../src/mdp/cluster/options.ts';
import { curveKeyPair } from '../../src/mod.ts';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    return [...((err as { issues?: string[] }).issues ?? [])];
  }
  throw new Error('no error');
}

describe('cluster configuration', () => {
  it('is off by default, and the defaults print and parse back', () => {
    expect(DEFAULT_CONFIG.broker.clusterBind).toBeNull();
    expect(DEFAULT_CONFIG.broker.peer).toEqual([]);
    expect(defaultConfigYaml()).toMatch(/\n  cluster:\n    # where this broker listens for other brokers/);
    expect(resolveConfig({ yaml: defaultConfigYaml() })).toEqual(DEFAULT_CONFIG);
  });

  it('reads broker.cluster in YAML, PUREZMQ_BROKER_* and flags, later layers winning', () => {
    const yaml = [
      'broker:',
      '  node_id: a-1',
      '  cluster:',
      '    cluster_bind: tcp://127.0.0.1:6000',
      '    peer: [tcp://127.0.0.1:6001, tcp://127.0.0.1:6002]',
      '    cluster_strategy: round-robin',
      '    cluster_heartbeat: 250ms',
      '    cluster_liveness: 2s',
      '',
    ].join('\n');
    const c = resolveConfig({ yaml, env: { PUREZMQ_BROKER_CLUSTER_LOCAL_WAIT: '20ms', PUREZMQ_BROKER_NODE_ID: 'from-env' }, flags: { broker: { clusterStrategy: 'local-first' } } });
    expect(c.broker).toMatchObject({
      clusterBind: 'tcp://127.0.0.1:6000',
      peer: ['tcp://127.0.0.1:6001', 'tcp://127.0.0.1:6002'],
      nodeId: 'from-env',
      clusterStrategy: 'local-first',
      clusterHeartbeat: 250,
      clusterLiveness: '2s',
      clusterLocalWait: 20,
    });
  });

  it('validates each field with a message that names it', () => {
    const bad = (broker: Record<string, unknown>) => issuesOf(() => resolveConfig({ flags: { broker } }))[0];
    expect(bad({ clusterBind: 'tcp://127.0.0.1:70000' })).toMatch(/broker.cluster_bind .*port 1-65535/);
    expect(bad({ clusterStrategy: 'fastest' })).toMatch(/least-load, round-robin, local-first/);
    expect(bad({ clusterLiveness: '0' })).toMatch(/1 to 100 heartbeats/);
    expect(bad({ clusterLiveness: 'soon' })).toMatch(/count of heartbeats/);
    expect(bad({ clusterBind: 'tcp://127.0.0.1:6000', nodeId: 'has space' })).toMatch(/broker.node_id: in a cluster, 1 to 64 letters, digits/);
    expect(bad({ clusterHeartbeat: '5ms' })).toMatch(/at least 10 ms/);
  });

  it('refuses combinations that cannot work', () => {
    expect(issuesOf(() => resolveConfig({ flags: { broker: { peer: ['tcp://127.0.0.1:6001'] } } }))[0]).toMatch(/needs broker.cluster.cluster_bind/);
    expect(issuesOf(() => resolveConfig({ flags: { broker: { clusterBind: 'tcp://0.0.0.0:6000' } } }))[0]).toMatch(/must name this host/);
    expect(issuesOf(() => resolveConfig({ flags: { broker: { clusterBind: 'tcp://127.0.0.1:6000', clusterCurveSecretKeyFile: '/x' } } }))[0]).toMatch(/go together/);
    expect(issuesOf(() => resolveConfig({ flags: { broker: { clusterBind: 'tcp://127.0.0.1:6000', peer: ['tcp://127.0.0.1:6000'] } } }))[0]).toMatch(/own cluster endpoint/);
    // the library checks the same, and suggests the field a typo meant
    expect(issuesOf(() => new Broker({ peer: ['tcp://127.0.0.1:6001'] }))[0]).toMatch(/needs broker.cluster.cluster_bind/);
    expect(issuesOf(() => new Broker({ clusterBnd: 'tcp://127.0.0.1:6000' } as never))[0]).toMatch(/did you mean clusterBind/);
  });

  it('liveness in heartbeats or as a duration; the peer keys file', () => {
    expect(livenessMs('3', 200)).toBe(600);
    expect(livenessMs('1500ms', 200)).toBe(1500);
    expect(livenessMs('2s', 200)).toBe(2000);
    const a = curveKeyPair().publicKey;
    const b = curveKeyPair().publicKey;
    expect(parsePeerKeys(`# brokers\n${a}\n  ${b} tcp://10.0.0.2:6000  # b\n`, 'keys')).toEqual([
      { key: a, endpoint: undefined },
      { key: b, endpoint: 'tcp://10.0.0.2:6000' },
    ]);
    // '#' is a Z85 digit: inside a key it is not a comment
    const hashKey = 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf#';
    expect(parsePeerKeys(`${hashKey}\n`, 'keys')).toEqual([{ key: hashKey, endpoint: undefined }]);
    expect(issuesOf(() => parsePeerKeys('not-a-key\n', 'keys'))[0]).toMatch(/keys:1: not a Z85 public key/);
    expect(issuesOf(() => parsePeerKeys('# nothing\n', 'keys'))[0]).toBe('keys');
  });
});
