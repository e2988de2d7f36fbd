/** The Prometheus rendering on its own: access decisions (when a policy is in force) and label escaping. */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: the package ships no type declarations
import parsePrometheus from 'parse-prometheus-text-format';
import { Broker } from '../../../src/mdp/mod.ts';
import { prometheusText } from '../../../src/mdp/broker/prometheus.ts';

describe('prometheusText', () => {
  it('renders access decisions per service, action and outcome when a policy is in force', async () => {
    const broker = new Broker({ heartbeatInterval: 1000 });
    try {
      const m = broker.metrics();
      m.access = {
        policy: { source: 'policy.yaml', digest: 'abc', version: 2, loadedAt: new Date(0).toISOString(), default: 'deny', rules: 3 },
        reloads: 1,
        rejected: 1,
        allowed: 5,
        denied: 2,
        services: { 'e"cho': { requestAllowed: 5, requestDenied: 2, serveAllowed: 1, serveDenied: 0 } },
      };
      const families = new Map((parsePrometheus(prometheusText(m)) as { name: string; metrics: { value: string; labels: Record<string, string> }[] }[]).map((f) => [f.name, f]));
      const decisions = families.get('purezmq_broker_access_decisions_total')!.metrics;
      expect(decisions.find((d) => d.labels.service === 'e"cho' && d.labels.action === 'request' && d.labels.outcome === 'denied')?.value).toBe('2');
      expect(families.get('purezmq_broker_access_policy_version')!.metrics[0]).toMatchObject({ value: '2', labels: { digest: 'abc' } });
      expect(families.get('purezmq_broker_access_policy_rejected_total')!.metrics[0]!.value).toBe('1');
    } finally {
      await broker.close(0);
    }
  });
});
