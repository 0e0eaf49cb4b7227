import { LeeError } from '../../engine/errors.js';
import { Rng } from '../../engine/random.js';

/** Which part of a sweep this process runs: the models at positions index, index +
 * count, ... of the list. */
export interface Shard {
  index: number;
  count: number;
  /** where it came from, for the progress line */
  from: 'unsharded' | '--shard' | 'Slurm array' | 'Kubernetes Indexed Job';
}

const int = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined);

/** The shard from `--shard i/n`, else a Slurm job array (SLURM_ARRAY_TASK_ID; the count
 * from --shards, or SLURM_ARRAY_TASK_COUNT with the array's min and step), else a
 * Kubernetes Indexed Job (JOB_COMPLETION_INDEX, the count from --shards), else the
 * whole list. */
export function resolveShard(flag: string | undefined, shards: number | undefined, env: Record<string, string | undefined>): Shard {
  if (flag !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(flag.trim());
    if (!m) throw new LeeError(`--shard takes i/n (this process runs every n-th model from the i-th, 0 <= i < n), got '${flag}'`);
    const index = Number(m[1]);
    const count = Number(m[2]);
    if (count < 1 || index >= count) throw new LeeError(`--shard ${flag}: need 0 <= i < n`);
    if (shards !== undefined && shards !== count) throw new LeeError(`--shard ${flag} and --shards ${shards} disagree`);
    return { index, count, from: '--shard' };
  }
  const slurmId = int(env.SLURM_ARRAY_TASK_ID);
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_ID !== '') {
    if (slurmId === undefined) throw new LeeError(`SLURM_ARRAY_TASK_ID is '${env.SLURM_ARRAY_TASK_ID}', not a task index`);
    if (shards !== undefined) {
      // the printed script's --array=0-(n-1): the task id is the shard, also when some
      // tasks are resubmitted alone (sbatch --array=3,5)
      if (slurmId >= shards) throw new LeeError(`SLURM_ARRAY_TASK_ID ${slurmId} is not below --shards ${shards} (submit the array as --array=0-${shards - 1})`);
      return { index: slurmId, count: shards, from: 'Slurm array' };
    }
    const count = int(env.SLURM_ARRAY_TASK_COUNT);
    const min = int(env.SLURM_ARRAY_TASK_MIN) ?? 0;
    const step = int(env.SLURM_ARRAY_TASK_STEP) || 1;
    if (count === undefined || count < 1) throw new LeeError('SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: give --shards N (the array has tasks 0..N-1)');
    const index = (slurmId - min) / step;
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new LeeError(`Slurm array task ${slurmId} (min ${min}, step ${step}, ${count} tasks) is not one of ${count} shards: give --shards N`);
    }
    return { index, count, from: 'Slurm array' };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== '') {
    const index = int(env.JOB_COMPLETION_INDEX);
    if (index === undefined) throw new LeeError(`JOB_COMPLETION_INDEX is '${env.JOB_COMPLETION_INDEX}', not an index`);
    if (shards === undefined) throw new LeeError('JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give --shards N, the Job\'s completions');
    if (index >= shards) throw new LeeError(`JOB_COMPLETION_INDEX ${index} is not below --shards ${shards}`);
    return { index, count: shards, from: 'Kubernetes Indexed Job' };
  }
  if (shards !== undefined && shards > 1) {
    throw new LeeError(`--shards ${shards} needs this process's index: --shard i/${shards}, or run it as a Slurm array task or a Kubernetes Indexed Job`);
  }
  return { index: 0, count: 1, from: 'unsharded' };
}

/** The items of a shard: positions index, index + count, ... */
export const shardOf = <T>(items: readonly T[], s: Shard): T[] => items.filter((_, k) => k % s.count === s.index);

/** `--limit N`: N of the items drawn without replacement (a seeded shuffle), kept in
 * their listed order, so every model and every shard sees the same images. */
export function drawSubset<T>(items: readonly T[], limit: number | undefined, seed: number): T[] {
  if (limit === undefined || limit >= items.length) return [...items];
  const rng = new Rng(seed);
  const idx = items.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx
    .slice(0, limit)
    .sort((a, b) => a - b)
    .map((i) => items[i]!);
}
