import { EAST, problemsAfter } from '../../checks/fixture';

const DEP = `${EAST}/shop/web.yaml: Deployment shop/web`;
const POD = 'spec.template.spec';
const C = `${POD}.containers[0]`;
const PSS = '(restricted Pod Security Standard)';
const web = (f: any) => f.get('Deployment', 'web').spec.template.spec;
const container = (f: any) => web(f).containers[0];

describe('restricted Pod Security Standard', () => {
  test.each(['hostNetwork', 'hostPID', 'hostIPC'])('fails when %s is true', (field) => {
    expect(
      problemsAfter((f) => {
        web(f)[field] = true;
      }),
    ).toEqual([`${DEP}: ${POD}.${field}: must be false ${PSS}: the pod would share the node's namespace`]);
  });

  test('fails with a hostPath volume', () => {
    expect(
      problemsAfter((f) => {
        web(f).volumes.push({ name: 'host', hostPath: { path: '/var/run' } });
      }),
    ).toEqual([
      `${DEP}: ${POD}.volumes[1].hostPath: volume type hostPath is not allowed ${PSS}; allowed: configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret`,
    ]);
  });

  test('passes with the allowed volume types', () => {
    expect(
      problemsAfter((f) => {
        web(f).volumes.push(
          { name: 'config', configMap: { name: 'web' } },
          { name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token', audience: 'vault' } }] } },
        );
      }),
    ).toEqual([]);
  });

  test('fails when the pod may run as root', () => {
    expect(
      problemsAfter((f) => {
        web(f).securityContext.runAsNonRoot = false;
      }),
    ).toEqual([`${DEP}: ${POD}.securityContext.runAsNonRoot: must be true ${PSS}`]);
    expect(
      problemsAfter((f) => {
        delete web(f).securityContext.runAsNonRoot;
      }),
    ).toEqual([`${DEP}: ${C}.securityContext.runAsNonRoot: must be true, here or in the pod's securityContext ${PSS}`]);
  });

  test('fails when uid or gid is below 10001, in the pod or a container', () => {
    expect(
      problemsAfter((f) => {
        web(f).securityContext.runAsUser = 1000;
        web(f).securityContext.fsGroup = 2000;
        container(f).securityContext.runAsGroup = 0;
      }),
    ).toEqual([
      `${DEP}: ${POD}.securityContext.runAsUser: must be >= 10001 (got 1000): ids below it belong to system users of the image and the node`,
      `${DEP}: ${POD}.securityContext.fsGroup: must be >= 10001 (got 2000): ids below it belong to system users of the image and the node`,
      `${DEP}: ${C}.securityContext.runAsGroup: must be >= 10001 (got 0): ids below it belong to system users of the image and the node`,
    ]);
  });

  test('fails when no uid is set anywhere', () => {
    expect(
      problemsAfter((f) => {
        delete web(f).securityContext.runAsUser;
      }),
    ).toEqual([
      `${DEP}: ${C}.securityContext.runAsUser: must be set to 10001 or above, here or in the pod's securityContext: the image's own user could be root`,
    ]);
  });

  test('fails without a RuntimeDefault or Localhost seccomp profile', () => {
    expect(
      problemsAfter((f) => {
        web(f).securityContext.seccompProfile.type = 'Unconfined';
      }),
    ).toEqual([`${DEP}: ${POD}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost (got "Unconfined") ${PSS}`]);
    expect(
      problemsAfter((f) => {
        delete web(f).securityContext.seccompProfile;
      }),
    ).toEqual([`${DEP}: ${C}.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost, here or in the pod's securityContext ${PSS}`]);
  });

  test('fails on privileged containers, privilege escalation and a writable root filesystem', () => {
    expect(
      problemsAfter((f) => {
        const sc = container(f).securityContext;
        sc.privileged = true;
        delete sc.allowPrivilegeEscalation;
        sc.readOnlyRootFilesystem = false;
      }),
    ).toEqual([
      `${DEP}: ${C}.securityContext.privileged: must be false ${PSS}`,
      `${DEP}: ${C}.securityContext.allowPrivilegeEscalation: must be false ${PSS}: setuid binaries could gain privileges`,
      `${DEP}: ${C}.securityContext.readOnlyRootFilesystem: must be true: write to an emptyDir volume (e.g. /tmp) instead of the image`,
    ]);
  });

  test('fails unless every capability is dropped and only NET_BIND_SERVICE added', () => {
    expect(
      problemsAfter((f) => {
        container(f).securityContext.capabilities = { drop: ['NET_RAW'], add: ['NET_BIND_SERVICE', 'NET_ADMIN'] };
      }),
    ).toEqual([
      `${DEP}: ${C}.securityContext.capabilities.drop: must include ALL ${PSS}`,
      `${DEP}: ${C}.securityContext.capabilities.add[1]: NET_ADMIN may not be added ${PSS}: only NET_BIND_SERVICE is allowed`,
    ]);
  });

  test('fails on host ports, unmasked /proc, privileged SELinux and Windows host processes', () => {
    expect(
      problemsAfter((f) => {
        container(f).ports[0].hostPort = 8080;
        Object.assign(container(f).securityContext, {
          procMount: 'Unmasked',
          seLinuxOptions: { type: 'spc_t', user: 'root' },
          windowsOptions: { hostProcess: true },
        });
      }),
    ).toEqual([
      `${DEP}: ${C}.securityContext.procMount: must be Default (got "Unmasked") ${PSS}`,
      `${DEP}: ${C}.securityContext.windowsOptions.hostProcess: must be false ${PSS}`,
      `${DEP}: ${C}.securityContext.seLinuxOptions.type: must be one of container_t, container_init_t, container_kvm_t (got "spc_t") ${PSS}`,
      `${DEP}: ${C}.securityContext.seLinuxOptions.user: must not be set ${PSS}`,
      `${DEP}: ${C}.ports[0].hostPort: must not be set (got 8080) ${PSS}: it binds the node's port`,
    ]);
  });

  test('fails on unsafe sysctls and an unconfined AppArmor profile', () => {
    expect(
      problemsAfter((f) => {
        web(f).securityContext.sysctls = [
          { name: 'net.ipv4.tcp_syncookies', value: '1' },
          { name: 'kernel.msgmax', value: '65536' },
        ];
        f.get('Deployment', 'web').spec.template.metadata.annotations = { 'container.apparmor.security.beta.kubernetes.io/web': 'unconfined' };
      }),
    ).toEqual([
      `${DEP}: ${POD}.securityContext.sysctls[1].name: "kernel.msgmax" is not a safe sysctl ${PSS}; allowed: kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.ip_local_reserved_ports`,
      `${DEP}: spec.template.metadata.annotations.container.apparmor.security.beta.kubernetes.io/web: must be runtime/default or localhost/<profile> (got "unconfined") ${PSS}`,
    ]);
  });
});

describe('Meridian baseline: token, resources, probes', () => {
  test('fails when automountServiceAccountToken is left to the default', () => {
    expect(
      problemsAfter((f) => {
        delete web(f).automountServiceAccountToken;
      }),
    ).toEqual([
      `${DEP}: ${POD}.automountServiceAccountToken: must be set: Kubernetes mounts an API token into every pod by default; set false, or true when the workload calls the Kubernetes API`,
    ]);
  });

  test('passes with automountServiceAccountToken: true set deliberately', () => {
    expect(
      problemsAfter((f) => {
        web(f).automountServiceAccountToken = true;
      }),
    ).toEqual([]);
  });

  test('fails without a memory limit, ephemeral-storage request and limit', () => {
    expect(
      problemsAfter((f) => {
        container(f).resources = { requests: { cpu: '250m', memory: '256Mi' } };
      }),
    ).toEqual([
      `${DEP}: ${C}.resources.limits.memory: must be set: without it a leak would eat the node's memory and get other pods OOM-killed`,
      `${DEP}: ${C}.resources.requests.ephemeral-storage: must be set: without it the scheduler places the pod blind of its scratch disk`,
      `${DEP}: ${C}.resources.limits.ephemeral-storage: must be set: without it a runaway log or temp file would fill the node's disk and get other pods evicted`,
    ]);
  });

  test('fails when a serving container lacks a probe', () => {
    expect(
      problemsAfter((f) => {
        delete container(f).readinessProbe;
        delete container(f).startupProbe;
      }),
    ).toEqual([
      `${DEP}: ${C}.readinessProbe: must be set on a container that serves ports: without it traffic would reach it before it can serve, and keep reaching it when it cannot`,
      `${DEP}: ${C}.startupProbe: must be set on a container that serves ports: without it a slow start would have to be covered by a lax liveness probe`,
    ]);
    expect(
      problemsAfter((f) => {
        delete container(f).livenessProbe;
      }),
    ).toEqual([`${DEP}: ${C}.livenessProbe: must be set on a container that serves ports: without it a wedged process would never be restarted`]);
  });

  test('passes when liveness and readiness check the same TCP port: a TCP-only server has no other check', () => {
    expect(
      problemsAfter((f) => {
        container(f).livenessProbe = { tcpSocket: { port: 8080 } };
        container(f).readinessProbe = { tcpSocket: { port: 8080 } };
      }),
    ).toEqual([]);
  });

  test.each([['the same HTTP path and port', { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 30, failureThreshold: 5 }, null]])(
    'fails when liveness is the readiness check (%s)',
    (_why, liveness, readiness) => {
      expect(
        problemsAfter((f) => {
          container(f).livenessProbe = liveness;
          if (readiness) container(f).readinessProbe = readiness;
        }),
      ).toEqual([
        `${DEP}: ${C}.livenessProbe: is the same check as the readinessProbe: when the pod is overloaded it would be restarted instead of taken out of rotation; check a cheaper endpoint, or the port alone`,
      ]);
    },
  );

  test('fails when liveness runs the readiness command', () => {
    expect(
      problemsAfter((f) => {
        f.get('StatefulSet', 'cache').spec.template.spec.containers[0].livenessProbe = { exec: { command: ['redis-cli', 'ping'] } };
      }),
    ).toEqual([
      `${EAST}/shop/cache.yaml: StatefulSet shop/cache: ${C}.livenessProbe: is the same check as the readinessProbe: when the pod is overloaded it would be restarted instead of taken out of rotation; check a cheaper endpoint, or the port alone`,
    ]);
  });

  test('passes without probes for a worker that serves no port', () => {
    expect(
      problemsAfter((f) => {
        const c = container(f);
        delete c.ports;
        delete c.readinessProbe;
        delete c.livenessProbe;
        delete c.startupProbe;
        f.get('Service', 'web').spec.ports[0].targetPort = 8080;
      }),
    ).toEqual([]);
  });
});
