import { Size } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-28';
import type { SidecarContainer } from './microservice';

/** The Cloud SQL Auth Proxy v2 image, pinned; the one place its version is set. */
export const CLOUD_SQL_PROXY_IMAGE = 'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.23.0';

export interface CloudSqlProxyOptions {
  /** Instance connection name `project:region:instance`. */
  readonly instance: string;
  /** Port the proxy listens on, on 127.0.0.1. @default 5432 */
  readonly port?: number;
  /** The cluster runs native sidecars: the proxy is one, ready before the application starts and stopped after it exits. @default false */
  readonly native?: boolean;
}

/**
 * The Cloud SQL Auth Proxy as a sidecar container: the application connects to
 * 127.0.0.1:<port>; the proxy reaches the instance's private IP with the pod's Google
 * identity (Workload Identity, `roles/cloudsql.client`), so no database key file exists.
 * Its health endpoints back the container's probes.
 */
export function cloudSqlProxyContainer(options: CloudSqlProxyOptions): SidecarContainer {
  const port = options.port ?? 5432;
  const health = 9801;
  return {
    name: 'cloud-sql-proxy',
    native: options.native ?? false,
    image: CLOUD_SQL_PROXY_IMAGE,
    args: [
      '--private-ip',
      '--structured-logs',
      `--port=${port}`,
      '--health-check',
      '--http-address=0.0.0.0',
      `--http-port=${health}`,
      // On SIGTERM, keep serving open connections for as long as the application may need.
      '--max-sigterm-delay=30s',
      options.instance,
    ],
    ports: [{ name: 'proxy-health', port: health }],
    cpu: Cpu.millis(50),
    memory: Size.mebibytes(64),
    memoryLimit: Size.mebibytes(256),
    readiness: { path: '/readiness', port: health },
    liveness: { path: '/liveness', port: health },
    startup: { path: '/startup', port: health },
  };
}
