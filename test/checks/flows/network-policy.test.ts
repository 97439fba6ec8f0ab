import { inBlock, inRange, NetPod, NetworkPolicyModel, Protocol } from '../../../checks/flows/network-policy';
import { E2E_CASES, E2ECase, Expectation, PeerRef, POD_IPS } from './netpol-e2e-cases';

const PORTS = [80, 81].flatMap((port) =>
  (['TCP', 'UDP', 'SCTP'] as Protocol[]).map((protocol) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, containerPort: port, protocol })),
);

function pods(c: E2ECase): Map<string, NetPod> {
  return new Map(
    c.pods.map((id) => {
      const [namespace, name] = id.split('/');
      return [id, { namespace, labels: { pod: name, ...(c.podLabels?.[id] ?? {}) }, ip: POD_IPS[id], ports: PORTS }];
    }),
  );
}

/** The suite's Reachability: starts all-true, expectations applied in order. */
function expected(c: E2ECase): Map<string, boolean> {
  const table = new Map<string, boolean>();
  for (const from of c.pods) for (const to of c.pods) table.set(`${from} -> ${to}`, true);
  const matches = (ref: PeerRef, id: string) => {
    const [ns, pod] = id.split('/');
    return (ref.ns === undefined || ref.ns === ns) && (ref.pod === undefined || ref.pod === pod);
  };
  const apply = (e: Expectation) => {
    for (const from of c.pods) {
      for (const to of c.pods) {
        const hit =
          'peer' in e
            ? matches(e.peer[0], from) && matches(e.peer[1], to)
            : 'allIngress' in e
              ? to === e.allIngress
              : 'allEgress' in e
                ? from === e.allEgress
                : from === e.pair[0] && to === e.pair[1];
        if (hit) table.set(`${from} -> ${to}`, e.allowed);
      }
    }
  };
  c.expect.forEach(apply);
  return table;
}

describe('NetworkPolicy evaluator on the Kubernetes e2e netpol suite', () => {
  it('ports every test of the suite', () => {
    expect(E2E_CASES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(E2E_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const model = new NetworkPolicyModel(
      new Map(['x', 'y', 'z'].map((ns) => [ns, c.namespaceLabels?.[ns] ?? {}])),
      c.policies.map((p) => ({ ref: `${p.namespace}/${p.name}`, obj: { metadata: { name: p.name, namespace: p.namespace }, spec: p.spec } })),
    );
    const byId = pods(c);
    const want = expected(c);
    const got = new Map<string, boolean>();
    for (const from of c.pods) {
      for (const to of c.pods) {
        // The suite ignores loopback: CNIs disagree on it.
        if (from === to) {
          got.set(`${from} -> ${to}`, want.get(`${from} -> ${to}`)!);
          continue;
        }
        got.set(`${from} -> ${to}`, model.connect({ pod: byId.get(from)! }, { pod: byId.get(to)! }, c.port, c.protocol).allowed);
      }
    }
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want));
  });
});

describe('NetworkPolicy evaluator beyond the suite', () => {
  const api: NetPod = { namespace: 'shop', labels: { app: 'api' }, ip: '10.0.0.5', ports: [{ name: 'http', containerPort: 8080 }] };
  const web: NetPod = { namespace: 'shop', labels: { app: 'web' }, ip: '10.0.0.6' };
  const policy = (name: string, spec: object) => ({ ref: name, obj: { metadata: { name, namespace: 'shop' }, spec } });

  it('admits a port range with endPort, and nothing past it', () => {
    const m = new NetworkPolicyModel(new Map([['shop', {}]]), [
      policy('range', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 32000, endPort: 32768 }] }] }),
    ]);
    expect(m.connect({ pod: web }, { ip: '203.0.113.9' }, 32768).allowed).toBe(true);
    expect(m.connect({ pod: web }, { ip: '203.0.113.9' }, 32769).allowed).toBe(false);
  });

  it('resolves an egress named port against the destination pod only', () => {
    const m = new NetworkPolicyModel(new Map([['shop', {}]]), [
      policy('named', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'http' }] }] }),
    ]);
    expect(m.connect({ pod: web }, { pod: api }, 8080).allowed).toBe(true);
    // An address outside the cluster has no named ports.
    expect(m.connect({ pod: web }, { ip: '203.0.113.9' }, 8080).allowed).toBe(false);
  });

  it('defaults policyTypes to Ingress, plus Egress when egress rules exist', () => {
    const m = new NetworkPolicyModel(new Map([['shop', {}]]), [
      policy('implicit', { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] }),
    ]);
    const v = m.connect({ pod: web }, { ip: '203.0.113.9' }, 443);
    expect(v.egress).toMatchObject({ isolated: true, allowed: false, selectedBy: ['implicit'] });
    expect(m.connect({ pod: web }, { pod: api }, 8080).ingress).toMatchObject({ isolated: true, allowed: false });
  });

  it('never lets pod or namespace selectors match an address of another cluster', () => {
    const m = new NetworkPolicyModel(new Map([['shop', {}]]), [
      policy('peers', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: {} }] }] }),
    ]);
    expect(m.connect({ ip: '10.1.0.5' }, { pod: api }, 8080).allowed).toBe(false);
    expect(m.connect({ pod: web }, { pod: api }, 8080).allowed).toBe(true);
  });
});

describe('inRange and inBlock', () => {
  // Parsed addresses and blocks are kept for the process: asking again gives the same answers.
  test.each([1, 2])('answers the same on pass %d', () => {
    expect(inRange('10.4.0.7', '10.4.0.0/16')).toBe(true);
    expect(inRange('10.5.0.7', '10.4.0.0/16')).toBe(false);
    expect(inRange('10.4.0.7', '::/0')).toBe(false);
    expect(inRange('fd00::1', 'fd00::/8')).toBe(true);
    expect(inBlock('10.4.0.7', '10.0.0.0/8', ['10.4.0.0/16'])).toBe(false);
    expect(inBlock('10.5.0.7', '10.0.0.0/8', ['10.4.0.0/16'])).toBe(true);
  });

  test('fails on a malformed block every time it is asked, not only the first', () => {
    expect(() => inRange('10.4.0.7', '10.4.0.0/33')).toThrow();
    expect(() => inRange('10.4.0.7', '10.4.0.0/33')).toThrow();
    expect(() => inRange('10.4.0.999', '10.4.0.0/16')).toThrow();
    expect(() => inRange('10.4.0.999', '10.4.0.0/16')).toThrow();
  });
});
