/**
 * Kits across the cluster, from the workers' heartbeats: the catalogue a
 * gateway lists (the union over live workers, each kit marked with the workers
 * that have it installed) and which workers may host a session that asks for
 * kits or a network policy. Pure.
 */
import { AppError } from '../errors.js';
import type { KitStatus } from '../sessions/contract.js';
import type { WorkerState } from './cluster-view.js';

/** With the live workers that have it installed (sessions needing it are placed only there). */
export type ClusterKitStatus = KitStatus & { workers: string[] };

export interface KitNeeds {
  kits?: readonly string[] | undefined;
  network?: string | undefined;
}

const installedOn = (w: WorkerState, kit: string) =>
  (w.heartbeat.kits ?? []).some((k) => k.name === kit && k.installed);
const knowsNetwork = (w: WorkerState, network: string) => (w.heartbeat.networks ?? []).includes(network);

/** The union of the live workers' kits and network policies, by name. */
export function clusterKits(workers: readonly WorkerState[]): { kits: ClusterKitStatus[]; networks: string[] } {
  const kits = new Map<string, ClusterKitStatus>();
  const networks = new Set<string>();
  for (const w of workers) {
    if (!w.alive) continue;
    for (const n of w.heartbeat.networks ?? []) networks.add(n);
    for (const k of w.heartbeat.kits ?? []) {
      const known = kits.get(k.name);
      const holders = [...(known?.workers ?? []), ...(k.installed ? [w.heartbeat.id] : [])].sort();
      // An installed copy describes the kit best (its package versions); else the first worker's.
      const status = known === undefined || (k.installed && !known.installed) ? k : known;
      kits.set(k.name, { ...status, workers: holders });
    }
  }
  return {
    kits: [...kits.values()].sort((a, b) => a.name.localeCompare(b.name)),
    networks: [...networks].sort(),
  };
}

/** The workers with every kit installed and the network policy known. */
export function workersWith(workers: readonly WorkerState[], needs: KitNeeds): WorkerState[] {
  return workers.filter(
    (w) =>
      (needs.kits ?? []).every((k) => installedOn(w, k)) &&
      (needs.network === undefined || knowsNetwork(w, needs.network)),
  );
}

/**
 * Why no live worker can take a session with these needs (capacity aside), naming the
 * kit or policy; null when some live worker has them all.
 */
export function lackingKits(workers: readonly WorkerState[], needs: KitNeeds): AppError | null {
  const live = workers.filter((w) => w.alive);
  if (workersWith(live, needs).length > 0) return null;
  const problems: string[] = [];
  for (const kit of new Set(needs.kits ?? [])) {
    const holders = live.filter((w) => installedOn(w, kit));
    if (holders.length > 0) continue;
    const known = live.some((w) => (w.heartbeat.kits ?? []).some((k) => k.name === kit));
    problems.push(
      known
        ? `kit "${kit}" is not installed on any live worker (the operator installs it there with \`codemode kits install ${kit}\`)`
        : `no live worker offers a kit named "${kit}" (see list_kits)`,
    );
  }
  if (needs.network !== undefined && !live.some((w) => knowsNetwork(w, needs.network as string))) {
    problems.push(`no live worker has a network policy named "${needs.network}"`);
  }
  if (problems.length === 0)
    problems.push('no single live worker has all of the kits and the network policy asked for');
  return new AppError('INVALID_ARGUMENT', problems.join('; '), {
    argument: problems.every((p) => p.includes('network policy')) ? 'network' : 'kits',
  });
}
