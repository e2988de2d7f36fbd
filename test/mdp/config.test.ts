import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONFIG,
  MdpError,
  MdpErrorCode,
  SCHEMA,
  defaultConfigYaml,
  envName,
  resolveConfig,
  LatencyReservoir,
  createLogger,
} from '../../src/mdp/mod.ts';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MdpError);
    expect((err as MdpError).code).toBe(MdpErrorCode.CONFIG);
    return [...(err as MdpError).issues];
  }
  throw new Error('expected a configuration error');
}

describe('MDP configuration', () => {
  it('has a default for every field, and the defaults validate', () => {
    for (const section of Object.keys(SCHEMA) as (keyof typeof SCHEMA)[]) {
      for (const key of Object.keys(SCHEMA[section])) {
        expect((DEFAULT_CONFIG[section] as unknown as Record<string, unknown>)[key], `${section}.${key}`).not.toBeUndefined();
      }
    }
    expect(resolveConfig()).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG.broker.bind).toEqual(['tcp://127.0.0.1:5555']);
    expect(DEFAULT_CONFIG.broker.heartbeatInterval).toBe(2500);
    expect(DEFAULT_CONFIG.broker.heartbeatLiveness).toBe(3);
    // the generated defaults document parses back to the defaults
    expect(resolveConfig({ yaml: defaultConfigYaml() })).toEqual(DEFAULT_CONFIG);
  });

  it('layers: defaults < YAML < PUREZMQ_* environment < flags', () => {
    const yaml = 'broker:\n  heartbeat_interval: 1s\n  heartbeat_liveness: 4\n  request_timeout: 5s\n  bind: [tcp://127.0.0.1:6000, ipc:///tmp/b.sock]\nclient:\n  version: "0.1"\n';
    const env = { PUREZMQ_BROKER_HEARTBEAT_LIVENESS: '5', PUREZMQ_BROKER_REQUEST_TIMEOUT: '7s', PATH: '/bin', PUREZMQ_CONFIG: 'x.yaml' };
    const flags = { broker: { requestTimeout: '9000' } };
    const c = resolveConfig({ yaml, env, flags });
    expect(c.broker.heartbeatInterval).toBe(1000); // YAML
    expect(c.broker.heartbeatLiveness).toBe(5); // env over YAML
    expect(c.broker.requestTimeout).toBe(9000); // flag over env
    expect(c.broker.bind).toEqual(['tcp://127.0.0.1:6000', 'ipc:///tmp/b.sock']);
    expect(c.client.version).toBe('0.1');
    expect(c.broker.maxQueuedRequests).toBe(DEFAULT_CONFIG.broker.maxQueuedRequests);
    expect(resolveConfig({ env: { PUREZMQ_BROKER_BIND: 'tcp://127.0.0.1:1, tcp://127.0.0.1:2' } }).broker.bind).toEqual([
      'tcp://127.0.0.1:1',
      'tcp://127.0.0.1:2',
    ]);
    expect(envName('broker', 'heartbeatInterval')).toBe('PUREZMQ_BROKER_HEARTBEAT_INTERVAL');
  });

  it('accepts durations as ms numbers or with units, and camelCase keys too', () => {
    const c = resolveConfig({ yaml: 'broker:\n  heartbeatInterval: 2.5s\n  shutdown_grace: 1m\n  busy_worker_timeout: 250ms\n' });
    expect([c.broker.heartbeatInterval, c.broker.shutdownGrace, c.broker.busyWorkerTimeout]).toEqual([2500, 60000, 250]);
  });

  it('reports one clear message per bad field, from every layer at once', () => {
    const issues = issuesOf(() =>
      resolveConfig({
        yaml: 'broker:\n  heartbeat_interval: often\n  heartbeat_liveness: 0\n  colour: blue\nnetwork:\n  x: 1\n',
        yamlPath: 'broker.yaml',
        env: { PUREZMQ_BROKER_MAX_WORKERS: 'lots', PUREZMQ_BROKER_NOPE: '1' },
        flags: { log: { level: 'loud' }, broker: { bind: ['udp://x'] } },
      }),
    );
    expect(issues).toHaveLength(8);
    expect(issues).toContain('broker.heartbeat_interval (in broker.yaml): must be a duration such as 2500, "2500ms", "2.5s", "1m" or "1d", got "often"');
    expect(issues).toContain('broker.heartbeat_liveness (in broker.yaml): must be at least 1, got 0');
    expect(issues.find((i) => i.startsWith('broker.colour (in broker.yaml): unknown field'))).toBeDefined();
    expect(issues.find((i) => i.startsWith('network (in broker.yaml): unknown section'))).toBeDefined();
    expect(issues).toContain('broker.max_workers (from PUREZMQ_BROKER_MAX_WORKERS): must be an integer, got "lots"');
    expect(issues.find((i) => i.startsWith('PUREZMQ_BROKER_NOPE: unknown variable'))).toBeDefined();
    expect(issues).toContain('log.level (from --log-level): must be one of silent, error, warn, info, debug, got "loud"');
    expect(issues).toContain('broker.bind (from --bind): must be endpoints such as tcp://127.0.0.1:5555 (port 1-65535 or *), got "udp://x"');
  });

  it('refuses ports out of range, and checks the HTTP address', () => {
    expect(issuesOf(() => resolveConfig({ flags: { broker: { bind: ['tcp://127.0.0.1:99999'] } } }))[0]).toMatch(/port 1-65535/);
    expect(issuesOf(() => resolveConfig({ flags: { broker: { bind: ['tcp://127.0.0.1:0'] } } }))[0]).toMatch(/port 1-65535/);
    expect(resolveConfig({ flags: { broker: { bind: ['tcp://127.0.0.1:*', 'tcp://[::1]:65535'] } } }).broker.bind).toHaveLength(2);
    expect(resolveConfig({ flags: { broker: { http: '127.0.0.1:9555' } } }).broker.http).toBe('127.0.0.1:9555');
    expect(resolveConfig({ flags: { broker: { http: '[::1]:0' } } }).broker.http).toBe('[::1]:0');
    expect(issuesOf(() => resolveConfig({ flags: { broker: { http: '127.0.0.1:70000' } } }))[0]).toMatch(/HOST:PORT/);
    expect(issuesOf(() => resolveConfig({ flags: { broker: { http: '9555' } } }))[0]).toMatch(/HOST:PORT/);
  });

  it('library options are checked like the config file: bad values, typos and wrong arguments throw MDP_CONFIG', async () => {
    const { Broker, Client, Worker } = await import('../../src/mdp/mod.ts');
    const issues = (fn: () => unknown): string[] => {
      try {
        fn();
      } catch (e) {
        expect((e as { code: string }).code).toBe('MDP_CONFIG');
        return [...(e as { issues: string[] }).issues];
      }
      throw new Error('expected MDP_CONFIG');
    };
    expect(issues(() => new Broker({ heartbeatInterval: 'abc' as unknown as number }))).toEqual([
      'Broker option heartbeatInterval: must be a duration such as 2500, "2500ms", "2.5s", "1m" or "1d", got "abc"',
    ]);
    expect(issues(() => new Broker({ hearbeatInterval: 100 } as never))).toEqual(['Broker option hearbeatInterval: unknown (did you mean heartbeatInterval?)']);
    // a list is several brokers (issue 11): each must be an endpoint
    expect(issues(() => new Client(['a', 'b']))).toEqual(['Client option endpoint: must be endpoints such as tcp://127.0.0.1:5555 (port 1-65535 or *), got "a"']);
    expect(issues(() => new Client(42 as unknown as string))).toEqual(['endpoint']);
    expect(issues(() => new Client('tcp://127.0.0.1:5555', { timeout: -1, retrys: 2 } as never))).toHaveLength(2);
    expect(issues(() => new Worker('tcp://127.0.0.1:5555', 'svc', () => 'x', { heartbeatLiveness: 0 }))).toEqual(['Worker option heartbeatLiveness: must be at least 1, got 0']);
    // strings are understood as in the YAML file
    const c = new Client('tcp://127.0.0.1:5555', { timeout: '2s' as unknown as number });
    expect(c.config.timeout).toBe(2000);
    c.close();
  });

  it('refuses YAML that does not parse or is not a mapping', () => {
    expect(issuesOf(() => resolveConfig({ yaml: 'broker: [unclosed', yamlPath: 'b.yaml' }))[0]).toMatch(/^b\.yaml: not valid YAML/);
    expect(issuesOf(() => resolveConfig({ yaml: '- a\n- b\n' }))[0]).toMatch(/must be a mapping of sections/);
    expect(issuesOf(() => resolveConfig({ yaml: 'broker: 3\n' }))[0]).toMatch(/broker .*must be a mapping of fields/);
  });

  it('checks cross-field rules', () => {
    expect(issuesOf(() => resolveConfig({ flags: { client: { retryBackoff: '2s', retryBackoffMax: '1s' } } }))[0]).toMatch(
      /client\.retry_backoff_max: must be at least client\.retry_backoff/,
    );
  });
});

describe('MDP metrics and logging helpers', () => {
  it('latency reservoir stays bounded and keeps exact count and max', () => {
    const r = new LatencyReservoir(100);
    for (let i = 1; i <= 10000; i++) r.record(i);
    const snap = r.snapshot();
    expect(snap.count).toBe(10000);
    expect(snap.max).toBe(10000);
    expect(snap.p50).toBeGreaterThan(2000);
    expect(snap.p50).toBeLessThan(8000);
    expect(snap.p99!).toBeGreaterThanOrEqual(snap.p90!);
    expect((r as unknown as { samples: number[] }).samples).toHaveLength(100);
  });

  it('logger filters by level and writes human or JSON lines', () => {
    const lines: string[] = [];
    const human = createLogger({ level: 'info', format: 'human', write: (l) => lines.push(l) });
    human.debug('hidden');
    human.info('worker ready', { service: 'echo', note: 'two words' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\S+Z INFO  worker ready service=echo note="two words"\n$/);
    const json = createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(l) });
    json.warn('x', { n: 1 });
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'warn', msg: 'x', n: 1 });
  });
});
