/**
 * Read-only access to the clusters, through @kubernetes/client-node: one client per kubeconfig
 * context, every request bounded in time, and every failure turned into one line that names
 * the context and what was refused. Nothing here writes to a cluster: the only verbs are get,
 * list and reading a container's log.
 */
import { ApiException, CoreV1Api, createConfiguration, KubeConfig, KubernetesObjectApi, ServerConfiguration } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
// Not re-exported by the package's index: the serializer that turns its model classes back into
// the API's JSON (field names such as NetworkPolicy's `from`, which the models call `_from`).
import { ObjectSerializer } from '@kubernetes/client-node/dist/serializer.js';
import { getSerializationType } from '@kubernetes/client-node/dist/util.js';
import { ProblemError } from '../kernel/problems';

/** A live object as the API server returned it, as plain JSON. */
export type LiveObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
};

/** Why a cluster could not be read: the context is not there, the server does not answer in time, it refuses us. */
export type ClusterFailure = 'no-context' | 'unreachable' | 'timeout' | 'unauthorized' | 'forbidden' | 'error';

/** A cluster that could not be read (at all, or for one request), with the one line that says why. */
export class ClusterError extends Error {
  constructor(
    public readonly context: string,
    public readonly failure: ClusterFailure,
    message: string,
  ) {
    super(`context ${context}: ${message}`);
    this.name = 'ClusterError';
  }
}

/**
 * Like Promise.all, but when several fail it throws the first failure in the order given, not
 * the first in time: the report names the same refused request on every run.
 */
export async function allInOrder<T extends readonly unknown[] | []>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/** The kubeconfig: `--kubeconfig FILE`, else $KUBECONFIG or ~/.kube/config as kubectl reads them. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (e) {
    throw new ProblemError('input', [
      { file: file ?? process.env.KUBECONFIG ?? '~/.kube/config', path: '', message: `cannot be read as a kubeconfig: ${firstLine(e)}` },
    ]);
  }
  return kc;
}

/** What one request is, for messages: `get Deployment marketplace/api`. */
interface RequestLabel {
  readonly verb: 'get' | 'list';
  readonly what: string;
}

/**
 * One cluster, as one kubeconfig context. Requests run in parallel up to a small bound; the
 * first that finds the server unreachable (refused, timed out, unknown host) marks the cluster
 * down, and every later request fails at once with the same error instead of waiting again.
 */
export class ClusterClient {
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private down?: ClusterError;
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    base: KubeConfig,
    public readonly context: string,
    private readonly timeoutMs: number,
    private readonly parallel = 8,
  ) {
    const ctx = base.getContextObject(context);
    if (!ctx) {
      const known = base.contexts.map((c) => c.name);
      throw new ClusterError(
        context,
        'no-context',
        `no such context in the kubeconfig (contexts: ${known.join(', ') || 'none'}); add it, or name another with the spec's regions.<region>.cluster`,
      );
    }
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: base.clusters, users: base.users, contexts: base.contexts, currentContext: context });
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new ClusterError(context, 'no-context', `the context names cluster "${ctx.cluster}", which the kubeconfig does not have`);
    // Every request gets its own deadline (the library passes the signal to fetch).
    const timeout = {
      pre: async (request: { setSignal: (s: AbortSignal) => void }) => {
        request.setSignal(AbortSignal.timeout(this.timeoutMs));
        return request;
      },
      post: async <T>(response: T) => response,
    };
    const config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [timeout as never],
    });
    this.objects = new KubernetesObjectApi(config);
    this.core = new CoreV1Api(config);
  }

  /** The object, or undefined when the server says it does not exist (404). */
  async get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<LiveObject | undefined> {
    const label: RequestLabel = { verb: 'get', what: `${kind} ${namespace ? `${namespace}/` : ''}${name} (${apiVersion})` };
    return this.request(label, async () => {
      try {
        const spec = { apiVersion, kind, metadata: { name, namespace } } as KubernetesObject & { metadata: { name: string } };
        return plain(await this.objects.read(spec), apiVersion, kind);
      } catch (e) {
        if (e instanceof ApiException && e.code === 404) return undefined;
        throw e;
      }
    });
  }

  /** Every object of a kind (in a namespace, with a label selector); [] when the API has no such kind. */
  async list(apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string } = {}): Promise<LiveObject[]> {
    const where = opts.namespace ? ` in ${opts.namespace}` : '';
    const label: RequestLabel = { verb: 'list', what: `${kind} (${apiVersion})${where}${opts.labelSelector ? ` labelled ${opts.labelSelector}` : ''}` };
    return this.request(label, async () => {
      try {
        const out: LiveObject[] = [];
        let cont: string | undefined;
        do {
          const page = await this.objects.list(apiVersion, kind, opts.namespace, undefined, undefined, undefined, undefined, opts.labelSelector, 500, cont);
          out.push(...page.items.map((o) => ({ apiVersion, kind, ...plain(o, apiVersion, kind) })));
          cont = page.metadata?._continue;
        } while (cont);
        return out;
      } catch (e) {
        if (e instanceof ApiException && e.code === 404) return [];
        if (e instanceof Error && /Unrecognized API version and kind/.test(e.message)) return [];
        throw e;
      }
    });
  }

  /** The log of a container of a pod (its current instance), or undefined when the pod is gone. */
  async log(namespace: string, pod: string, container: string): Promise<string | undefined> {
    const label: RequestLabel = { verb: 'get', what: `the log of ${namespace}/${pod} container ${container} (pods/log)` };
    return this.request(label, async () => {
      try {
        return await this.core.readNamespacedPodLog({ namespace, name: pod, container });
      } catch (e) {
        if (e instanceof ApiException && (e.code === 404 || e.code === 400)) return undefined;
        throw e;
      }
    });
  }

  private async request<T>(label: RequestLabel, run: () => Promise<T>): Promise<T> {
    if (this.down) throw this.down;
    if (this.running >= this.parallel) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running++;
    try {
      if (this.down) throw this.down;
      return await run();
    } catch (e) {
      const error = e instanceof ClusterError ? e : this.classify(label, e);
      if (error.failure === 'unreachable' || error.failure === 'timeout') this.down ??= error;
      throw error;
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  private classify(label: RequestLabel, e: unknown): ClusterError {
    const refused = `${label.verb} ${label.what}`;
    if (e instanceof ApiException) {
      const status = statusMessage(e.body);
      if (e.code === 401)
        return new ClusterError(
          this.context,
          'unauthorized',
          `401 Unauthorized: the server did not accept the credentials of the context (${refused})${status}`,
        );
      if (e.code === 403) return new ClusterError(this.context, 'forbidden', `403 Forbidden: ${refused} was refused${status}`);
      return new ClusterError(this.context, 'error', `${e.code} from the server: ${refused}${status}`);
    }
    const err = e as { name?: string; code?: string; type?: string; message?: string };
    if (err?.name === 'AbortError' || err?.name === 'TimeoutError' || err?.type === 'aborted')
      return new ClusterError(this.context, 'timeout', `no answer within ${this.timeoutMs / 1000}s (${refused})`);
    if (err?.code && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ETIMEDOUT|CERT_|DEPTH_ZERO|UNABLE_TO|SELF_SIGNED)/.test(err.code))
      return new ClusterError(this.context, 'unreachable', `the server cannot be reached (${err.code}) (${refused})`);
    return new ClusterError(this.context, 'error', `${refused} failed: ${firstLine(e)}`);
  }
}

/** The server's own reason, from its Status body: ` (server: deployments.apps "api" is forbidden: ...)`. */
function statusMessage(body: unknown): string {
  const parsed = typeof body === 'string' ? safeJson(body) : body;
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && message ? ` (server: ${message})` : '';
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/**
 * The library deserializes known kinds into its model classes (Dates for timestamps, `_from`
 * for `from`); the commands compare and print the API's JSON, so objects are serialized back
 * with the same model.
 */
function plain(o: unknown, apiVersion: string, kind: string): LiveObject {
  return JSON.parse(JSON.stringify(ObjectSerializer.serialize(o, getSerializationType(apiVersion, kind)))) as LiveObject;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
