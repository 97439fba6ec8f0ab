import { ProblemError } from '../../../kernel/problems';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatProblem, loadEnvironments, PlatformInput } from '../../../model';
import { queues } from '../../fixtures/queues';
import { tempDir } from '../../helpers';
import { buildEnvironment } from '../../../synth/render';

type Services = Record<string, Record<string, any>>;

/** The fixture platform with `edit` applied to a copy of its services. */
function platform(edit: (services: Services) => void = () => {}): PlatformInput {
  const input = structuredClone(queues);
  edit(input.services as Services);
  return input;
}

function load(input: PlatformInput, overlays: Record<string, string> = {}) {
  const root = tempDir();
  for (const [env, text] of Object.entries(overlays)) {
    fs.mkdirSync(path.join(root, 'overlays', 'queues'), { recursive: true });
    fs.writeFileSync(path.join(root, 'overlays', 'queues', `${env}.yaml`), text);
  }
  return loadEnvironments({ file: 'platforms/queues.ts', input }, root);
}

/** The spec problems, one formatted line each; fails the test when the spec loads. */
function problems(input: PlatformInput, overlays: Record<string, string> = {}): string[] {
  try {
    load(input, overlays);
  } catch (e) {
    if (e instanceof ProblemError && e.source === 'spec') return e.problems.map(formatProblem);
    throw e;
  }
  throw new Error('expected spec problems, the spec loaded');
}

/**
 * The problems of rendering every environment: KEDA's rules are checked once, by the
 * Autoscaler, and reported at the spec field that set the prop it refused.
 */
function rendered(input: PlatformInput, overlays: Record<string, string> = {}): string[] {
  const out: string[] = [];
  for (const env of load(input, overlays)) {
    try {
      buildEnvironment(env, `${env.platform.name}/${env.env}`);
    } catch (e) {
      if (!(e instanceof ProblemError)) throw e;
      for (const line of e.problems.map(formatProblem)) if (!out.includes(line)) out.push(line);
    }
  }
  if (out.length === 0) throw new Error('expected problems, every environment rendered');
  return out;
}

describe('autoscaling spec', () => {
  test('the fixture loads, with every default filled in', () => {
    const [dev] = load(platform());
    const worker = dev.platform.services['task-worker'].autoscaling!;
    expect(worker).toMatchObject({ min: 0, max: 20, pollingInterval: '30s', cooldown: '10m' });
    expect(worker.triggers[0]).toEqual({ type: 'cloud-tasks', name: 'cloud-tasks-depth', queue: 'test-execution', tasksPerReplica: 5, activationThreshold: 0 });
    expect(worker.triggers[1]).toMatchObject({ type: 'cron', name: 'cron' });
    expect(dev.platform.services.ingest.autoscaling!.fallback).toEqual({ replicas: 6, failureThreshold: 3, behavior: 'static' });
    expect(dev.platform.services.api.autoscaling!.triggers[0]).toEqual({ type: 'memory', name: 'memory', averageValue: '384Mi' });
  });

  test('the shorthands of platforms/ggen.ts stay valid', () => {
    const [dev] = load(
      platform((s) => {
        s.api.autoscaling = { min: 2, max: 20, cpuUtilization: 70, requestsPerSecond: 1000 };
      }),
    );
    expect(dev.platform.services.api.autoscaling).toMatchObject({ cpuUtilization: 70, requestsPerSecond: 1000, triggers: [] });
  });

  test('fails when min is above max', () => {
    expect(
      rendered(
        platform((s) => {
          s.api.autoscaling.min = 12;
        }),
      ),
    ).toEqual(["platforms/queues.ts: services.api.autoscaling.min: (12) must be <= maxReplicaCount (10) (Autoscaler 'api-Autoscaler': minReplicas)"]);
  });

  test('fails when there is no trigger', () => {
    expect(
      rendered(
        platform((s) => {
          s.ingest.autoscaling.triggers = [];
          delete s.ingest.autoscaling.fallback;
        }),
      ),
    ).toEqual(["platforms/queues.ts: services.ingest.autoscaling.triggers: needs at least one trigger (Autoscaler 'ingest-Autoscaler': triggers)"]);
  });

  test('fails when two triggers share a name, naming both', () => {
    expect(
      rendered(
        platform((s) => {
          s.api.autoscaling.triggers.push({ type: 'cpu', averageValue: '300m' });
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.api.autoscaling.triggers[1].name: trigger "cpu" (cpu): "cpu" is also the name of spec.triggers[0]: trigger names must be unique (Autoscaler \'api-Autoscaler\': triggers[1].name)',
    ]);
  });

  test('fails when every trigger is cpu or memory and min is 0', () => {
    expect(
      problems(
        platform((s) => {
          s.api.autoscaling.min = 0;
        }),
      ),
    ).toEqual([
      // KEDA's rule (no scale to zero on cpu/memory alone) is the Autoscaler's, and is only reached
      // when the spec loads; the environment's replica floor refuses min 0 first here.
      'platforms/queues.ts: services.api.autoscaling.min: must be >= policy.minReplicas (1) in this environment: one pod down would take the service down (got 0)',
    ]);
  });

  test('fails when a cpu trigger scales a container that requests no cpu', () => {
    expect(
      rendered(
        platform((s) => {
          s.api.resources.cpu = '0';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.api.autoscaling.cpuUtilization: trigger "cpu" (cpu): container "api" of Deployment jobs/api has no cpu request: KEDA refuses a cpu trigger without one (Autoscaler \'api-Autoscaler\': cpuUtilization)',
    ]);
  });

  test('fails when a memory trigger has both utilization and averageValue', () => {
    expect(
      rendered(
        platform((s) => {
          s.api.autoscaling.triggers[0].utilization = 80;
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.api.autoscaling.triggers[0]: trigger "memory" (memory) needs exactly one of utilization or averageValue (Autoscaler \'api-Autoscaler\': triggers[0])',
    ]);
  });

  test('fails when fallback is set with a cpu trigger, as KEDA refuses it', () => {
    expect(
      rendered(
        platform((s) => {
          s.api.autoscaling.fallback = { replicas: 4 };
        }),
      ),
    ).toEqual([
      "platforms/queues.ts: services.api.autoscaling.fallback: is not supported with trigger \"cpu\" (cpu): KEDA's fallback works only with external triggers of metricType AverageValue, never cpu or memory (Autoscaler 'api-Autoscaler': fallback)",
    ]);
  });

  test('fails when fallback is set with a trigger of metricType Value', () => {
    expect(
      rendered(
        platform((s) => {
          s.ingest.autoscaling.triggers.push({ type: 'prometheus', name: 'lag', query: 'max(consumer_lag_seconds)', threshold: 30, metricType: 'Value' });
        }),
      ),
    ).toEqual([
      "platforms/queues.ts: services.ingest.autoscaling.fallback: is not supported with trigger \"lag\" (prometheus): its metricType is Value, and KEDA's fallback needs AverageValue set on every trigger (Autoscaler 'ingest-Autoscaler': fallback)",
    ]);
  });

  test('fails when an autoscaled service name is longer than 54 characters', () => {
    const long = `w${'x'.repeat(54)}`;
    const input = platform((s) => {
      s[long] = s.ingest;
      delete s.ingest;
    });
    expect(rendered(input)).toEqual([
      `platforms/queues.ts: services.${long}: is 55 characters; at most 54 are allowed: KEDA names the HPA keda-hpa-<name>, a 63-character label (got "${long}") (Autoscaler '${long}-Autoscaler': name)`,
    ]);
  });

  test('fails when a PromQL query does not parse, naming the file, field and trigger', () => {
    expect(
      rendered(
        platform((s) => {
          s.ingest.autoscaling.triggers.push({ type: 'prometheus', name: 'lag', query: 'sum(rate(consumer_lag_total[2m])', threshold: 30 });
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.ingest.autoscaling.triggers[1].query: trigger "lag" (prometheus): syntax error at column 33: unexpected end of query (got "sum(rate(consumer_lag_total[2m])") (Autoscaler \'ingest-Autoscaler\': triggers[1].query)',
    ]);
  });

  test('fails when an overlay breaks a query: the overlay file is named', () => {
    const overlay = [
      'services:',
      '  ingest:',
      '    autoscaling:',
      '      triggers:',
      '        - { type: prometheus, name: lag, query: "max(lag) by", threshold: 3 }',
    ].join('\n');
    expect(rendered(platform(), { prod: overlay })).toEqual([
      expect.stringMatching(
        /^overlays\/queues\/prod\.yaml: services\.ingest\.autoscaling\.triggers\[0\]\.query: trigger "lag" \(prometheus\): syntax error at column 12/,
      ),
    ]);
  });

  test('fails when a cron trigger names no IANA time zone', () => {
    expect(
      rendered(
        platform((s) => {
          s['task-worker'].autoscaling.triggers[1].timezone = 'Eastern';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.task-worker.autoscaling.triggers[1].timezone: trigger "cron" (cron): must be an IANA time zone name such as Europe/Paris, America/New_York or UTC (got "Eastern") (Autoscaler \'task-worker-Autoscaler\': triggers[1].timezone)',
    ]);
    expect(
      rendered(
        platform((s) => {
          s['task-worker'].autoscaling.triggers[1].timezone = 'america/new_york';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.task-worker.autoscaling.triggers[1].timezone: trigger "cron" (cron): must be an IANA time zone name with its exact case: use "America/New_York" (got "america/new_york") (Autoscaler \'task-worker-Autoscaler\': triggers[1].timezone)',
    ]);
  });

  test('fails when a cron schedule is not five standard fields', () => {
    expect(
      rendered(
        platform((s) => {
          const cron = s['task-worker'].autoscaling.triggers[1];
          cron.start = '0 0 8 * * 1-5';
          cron.end = '0 18 L * *';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.task-worker.autoscaling.triggers[1].start: trigger "cron" (cron): must have 5 fields (minute hour day-of-month month day-of-week), found 6 (got "0 0 8 * * 1-5") (Autoscaler \'task-worker-Autoscaler\': triggers[1].start)',
    ]);
    expect(
      rendered(
        platform((s) => {
          s['task-worker'].autoscaling.triggers[1].start = '61 8 * * 1-5';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.task-worker.autoscaling.triggers[1].start: trigger "cron" (cron): is not a valid cron schedule: Constraint error, value 61 expected range 0-59 (got "61 8 * * 1-5") (Autoscaler \'task-worker-Autoscaler\': triggers[1].start)',
    ]);
    expect(
      rendered(
        platform((s) => {
          s['task-worker'].autoscaling.triggers[1].end = '0 18 L * *';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.task-worker.autoscaling.triggers[1].end: trigger "cron" (cron): day of month field "L": L, W and # are not supported by KEDA\'s cron parser (got "0 18 L * *") (Autoscaler \'task-worker-Autoscaler\': triggers[1].end)',
    ]);
  });

  test('fails when a cron window opens and closes at once', () => {
    expect(
      rendered(
        platform((s) => {
          s['task-worker'].autoscaling.triggers[1].end = '0 8 * * 1-5';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.task-worker.autoscaling.triggers[1].end: trigger "cron" (cron): must differ from start: KEDA refuses a window that opens and closes at once (got "0 8 * * 1-5") (Autoscaler \'task-worker-Autoscaler\': triggers[1].end)',
    ]);
  });

  test('fails when a worker without ports scales on requests per second', () => {
    expect(
      problems(
        platform((s) => {
          s.ingest.autoscaling.requestsPerSecond = 100;
          delete s.ingest.autoscaling.fallback;
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.ingest.autoscaling.requestsPerSecond: needs a port: a worker without ports serves no requests; scale it on its queue (pubsub, cloud-tasks, prometheus) (got 100)',
    ]);
  });

  test('fails when a service without a websocket port scales on open connections', () => {
    expect(
      problems(
        platform((s) => {
          s.ingest.autoscaling.connectionsPerReplica = 500;
          delete s.ingest.autoscaling.fallback;
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.ingest.autoscaling.connectionsPerReplica: needs a websocket port: it counts the WebSocket connections open on the pods (Envoy counts upgraded connections only) (got 500)',
    ]);
  });

  test('fails when a trigger type is unknown, listing the types', () => {
    expect(
      problems(
        platform((s) => {
          s.ingest.autoscaling.triggers = [{ type: 'gcp-pubsub', subscription: 'x' }];
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.ingest.autoscaling.triggers[0].type: type must be one of cpu, memory, prometheus, cron, pubsub, cloud-tasks (got {"type":"gcp-pubsub","subscription":"x"})',
    ]);
  });

  test('fails when a trigger has an unknown field, listing the fields of its type', () => {
    expect(
      problems(
        platform((s) => {
          s.ingest.autoscaling.triggers[0].topic = 'raw';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.ingest.autoscaling.triggers[0].topic: unknown field (allowed: type, name, subscription, project, messagesPerReplica, activationThreshold)',
    ]);
  });

  test('fails when the scale-down stabilization is longer than the HPA allows', () => {
    expect(
      problems(
        platform((s) => {
          s.api.autoscaling.scaleDown.stabilization = '2h';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.api.autoscaling.scaleDown.stabilization: must be at most 1h: the HPA refuses a longer stabilization window (got "2h")',
    ]);
  });

  test('fails once when a scaling policy period is in milliseconds', () => {
    expect(
      problems(
        platform((s) => {
          s.api.autoscaling.scaleDown.policies[0].period = '500ms';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.api.autoscaling.scaleDown.policies[0].period: must be a duration in whole seconds, minutes or hours (e.g. 30s, 5m, 1h) (got "500ms")',
    ]);
  });

  test('fails when a scaling policy period is longer than the HPA allows', () => {
    expect(
      problems(
        platform((s) => {
          s.api.autoscaling.scaleDown.policies[0].period = '31m';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.api.autoscaling.scaleDown.policies[0].period: must be between 1s and 30m: the HPA refuses other periods (got "31m")',
    ]);
  });

  test('fails when the polling interval is below a second', () => {
    expect(
      problems(
        platform((s) => {
          s.ingest.autoscaling.pollingInterval = '500ms';
        }),
      ),
    ).toEqual([
      'platforms/queues.ts: services.ingest.autoscaling.pollingInterval: must be whole seconds, minutes or hours (e.g. 30s, 5m): KEDA counts in seconds (got "500ms")',
    ]);
  });

  test('fails when a region of an overlay sets min above max: the overlay and the region field are named', () => {
    const overlay = 'regions:\n  europe-west1:\n    services:\n      api:\n        autoscaling:\n          min: 12\n';
    expect(rendered(platform(), { prod: overlay })).toEqual([
      "overlays/queues/prod.yaml: regions.europe-west1.services.api.autoscaling.min: (12) must be <= maxReplicaCount (10) (Autoscaler 'api-Autoscaler': minReplicas)",
    ]);
  });

  test('fails when an overlay names a trigger twice: the overlay file is named', () => {
    const overlay =
      'services:\n  api:\n    autoscaling:\n      triggers:\n        - { type: memory, averageValue: 384Mi }\n        - { type: cpu, name: cpu, utilization: 60 }\n';
    expect(rendered(platform(), { prod: overlay })).toEqual([
      'overlays/queues/prod.yaml: services.api.autoscaling.triggers[1].name: trigger "cpu" (cpu): "cpu" is also the name of spec.triggers[0]: trigger names must be unique (Autoscaler \'api-Autoscaler\': triggers[1].name)',
    ]);
  });
});
