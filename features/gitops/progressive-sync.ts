/**
 * A model of ArgoCD's progressive sync (ApplicationSet `strategy.type: RollingSync`), to prove
 * that the rendered waves stop a bad change at the first unhealthy wave. There is no ArgoCD
 * controller on these machines; this follows the ApplicationSet controller's reconcile loop in
 * argoproj/argo-cd `applicationset/controllers/applicationset_controller.go`:
 * - `buildAppDependencyList`: an Application belongs to every step all of whose
 *   matchExpressions select its labels (`In`: the label is present with one of the values;
 *   `NotIn`: absent, or present with none of them; any other operator selects nothing);
 *   its step for status is the first one that selects it.
 * - `buildAppSyncMap`: the steps up to and including the first step with an Application that
 *   is not yet healthy (or has no status yet) may sync; every later step may not.
 * - `appSyncEnabledForNextStep` / `isApplicationHealthy`: healthy means health `Healthy`,
 *   sync status not `OutOfSync`, and the last operation `Succeeded` (or none), with the
 *   ApplicationSet's own status for it `Healthy`.
 * - `updateApplicationSetApplicationStatus` and `...StatusProgress`: per Application
 *   Waiting → Pending (allowed to sync, within the step's `maxUpdate`, an int or a percent of
 *   the step's Applications, a non-zero percent at least 1) → Progressing (its sync ran) →
 *   Healthy; an OutOfSync Application goes back to Waiting.
 * The controller syncs Pending Applications itself; with RollingSync it turns the generated
 * Applications' automated sync off, so nothing else syncs them.
 */

/** A step of `spec.strategy.rollingSync.steps`. */
export interface RolloutStep {
  readonly matchExpressions: readonly { readonly key: string; readonly operator: string; readonly values: readonly string[] }[];
  readonly maxUpdate?: number | string;
}

/** What the cluster makes of a revision once an Application syncs it. */
export type Outcome = 'Healthy' | 'Degraded';

export interface SimulatedApp {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

type Phase = 'Waiting' | 'Pending' | 'Progressing' | 'Healthy';

interface AppState {
  /** The revision the Application last synced. */
  synced: string;
  health: 'Healthy' | 'Progressing' | 'Degraded';
  /** The ApplicationSet's status for it. */
  phase: Phase;
}

/** The step each Application belongs to (its first selecting step), and each step's members. */
export function stepsOf(apps: readonly SimulatedApp[], steps: readonly RolloutStep[]): { members: string[][]; stepOf: Map<string, number> } {
  const members = steps.map(() => [] as string[]);
  const stepOf = new Map<string, number>();
  for (const app of apps) {
    steps.forEach((step, i) => {
      const selected = step.matchExpressions.every((e) => {
        const value = app.labels[e.key];
        if (e.operator !== 'In' && e.operator !== 'NotIn') return false;
        if (value === undefined) return e.operator === 'NotIn';
        return e.values.includes(value) === (e.operator === 'In');
      });
      if (!selected) return;
      members[i].push(app.name);
      if (!stepOf.has(app.name)) stepOf.set(app.name, i);
    });
  }
  return { members, stepOf };
}

function maxUpdateOf(step: RolloutStep, total: number): number {
  const m = step.maxUpdate;
  if (m === undefined) return Infinity;
  if (typeof m === 'number') return m;
  const percent = Number(m.replace(/%$/, ''));
  const scaled = Math.floor((percent * total) / 100);
  return m !== '0%' && scaled < 1 ? 1 : scaled;
}

export interface SimulationResult {
  /** Per reconcile round, the Applications that synced the new revision in it. */
  readonly rounds: string[][];
  /** The Applications that run the new revision at the end. */
  readonly updated: string[];
  /** The Applications still on the old revision at the end. */
  readonly held: string[];
}

/**
 * Every Application runs `from`, healthy; then the repository moves to `to`. Each round is one
 * reconcile of the ApplicationSet controller followed by the syncs it starts; `outcome` says
 * how an Application's cluster takes the new revision. Runs until nothing changes.
 */
export function simulateRollout(
  apps: readonly SimulatedApp[],
  steps: readonly RolloutStep[],
  outcome: (app: string) => Outcome,
  revisions: { from: string; to: string } = { from: 'old', to: 'new' },
): SimulationResult {
  const { members, stepOf } = stepsOf(apps, steps);
  const state = new Map<string, AppState>(apps.map((a) => [a.name, { synced: revisions.from, health: 'Healthy', phase: 'Healthy' }]));
  const outOfSync = (s: AppState) => s.synced !== revisions.to;
  const healthy = (s: AppState) => s.health === 'Healthy' && !outOfSync(s);
  const rounds: string[][] = [];
  for (let round = 0; round < 100; round++) {
    // updateApplicationSetApplicationStatus
    for (const s of state.values()) {
      if (outOfSync(s) && s.phase !== 'Waiting' && s.phase !== 'Pending') s.phase = 'Waiting';
      if (s.phase === 'Pending' && !outOfSync(s)) s.phase = 'Progressing';
      if ((s.phase === 'Waiting' || s.phase === 'Progressing') && healthy(s)) s.phase = 'Healthy';
    }
    // buildAppSyncMap
    const mayUpdate = new Map<string, boolean>();
    let enabled = true;
    for (const step of members) {
      for (const name of step) mayUpdate.set(name, enabled);
      for (const name of step) {
        const s = state.get(name)!;
        if (!(healthy(s) && s.phase === 'Healthy')) {
          enabled = false;
          break;
        }
      }
    }
    // updateApplicationSetApplicationStatusProgress
    const updating = members.map((names) => names.filter((n) => ['Pending', 'Progressing'].includes(state.get(n)!.phase)).length);
    const total = members.map((names) => names.length);
    for (const app of apps) {
      const i = stepOf.get(app.name);
      if (i === undefined) continue; // in no step: the controller never syncs it
      const s = state.get(app.name)!;
      if (s.phase === 'Waiting' && mayUpdate.get(app.name) && updating[i] < maxUpdateOf(steps[i], total[i])) {
        s.phase = 'Pending';
        updating[i]++;
      }
    }
    // The controller syncs Pending Applications; the cluster answers with the outcome.
    const synced: string[] = [];
    for (const app of apps) {
      const s = state.get(app.name)!;
      if (s.phase === 'Pending' && outOfSync(s)) {
        s.synced = revisions.to;
        s.health = outcome(app.name) === 'Healthy' ? 'Healthy' : 'Degraded';
        synced.push(app.name);
      }
    }
    if (synced.length === 0 && round > 0 && [...state.values()].every((s) => s.phase !== 'Pending')) break;
    rounds.push(synced);
  }
  const updated = apps.filter((a) => state.get(a.name)!.synced === revisions.to).map((a) => a.name);
  return { rounds: rounds.filter((r) => r.length > 0), updated, held: apps.filter((a) => !updated.includes(a.name)).map((a) => a.name) };
}
