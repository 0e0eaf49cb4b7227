// Sweeps as jobs of the schedulers clusters already run: a Slurm job array or a
// Kubernetes Indexed Job, task i running `lee sweep ... --shards n` as shard i.

/** A word for sh: bare when it is safe, else single-quoted. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface SlurmScript {
  /** array tasks: shards 0..tasks-1 */
  tasks: number;
  /** the folder the job runs in (the sweep's paths are absolute anyway) */
  cwd: string;
  /** node and the lee entry point, absolute: the compute nodes share the file system */
  command: readonly string[];
  /** where the tasks' logs go (slurm-<job>_<task>.log) */
  logDir: string;
  /** extra #SBATCH options (--sbatch), e.g. --gres=gpu:1, --time=04:00:00 */
  sbatch: readonly string[];
  jobName?: string;
}

/** An sbatch script: one array task per shard; resubmitting it (or some tasks, with
 * sbatch --array=3,5) redoes only what is missing or stale. */
export function slurmScript(s: SlurmScript): string {
  const lines = [
    '#!/bin/bash',
    `# lee sweep as a Slurm job array of ${s.tasks} task(s): task i runs shard i/${s.tasks} (every`,
    `# ${s.tasks}-th model from the i-th), taking i from SLURM_ARRAY_TASK_ID. Submit with`,
    '#   sbatch <this file>',
    '# A model is written whole or not at all; resubmitting redoes only models whose outputs',
    '# are missing or were made with other settings, so a failed or preempted task is rerun',
    '# with: sbatch --array=<its index> <this file>. Merge afterwards: lee summary <out>.',
    `#SBATCH --job-name=${s.jobName ?? 'lee-sweep'}`,
    `#SBATCH --array=0-${s.tasks - 1}`,
    `#SBATCH --output=${s.logDir}/slurm-%A_%a.log`,
    '#SBATCH --ntasks=1',
    ...s.sbatch.map((o) => `#SBATCH ${o}`),
    ...(s.sbatch.some((o) => o.startsWith('--gres') || o.startsWith('--gpus')) ? [] : ['# on GPU nodes add (lee sweep --sbatch=--gres=gpu:1): #SBATCH --gres=gpu:1']),
    'set -euo pipefail',
    `cd ${shellWord(s.cwd)}`,
    `exec ${s.command.map(shellWord).join(' ')}`,
    '',
  ];
  return lines.join('\n');
}

export interface K8sJob {
  image: string;
  tasks: number;
  /** the container's command: lee sweep ... --shards n */
  command: readonly string[];
  name?: string;
}

const q = (s: string): string => JSON.stringify(s);

/** A Kubernetes Indexed Job: `tasks` completions, pod i gets JOB_COMPLETION_INDEX=i and
 * runs shard i. The sweep's paths are taken inside the container, relative to /data,
 * where a PersistentVolumeClaim (lee-sweep-data) holds the list, images and outputs. */
export function k8sManifest(j: K8sJob): string {
  const name = j.name ?? 'lee-sweep';
  return [
    `# lee sweep as a Kubernetes Indexed Job of ${j.tasks} pod(s): pod i runs shard i/${j.tasks}`,
    '# (JOB_COMPLETION_INDEX). Apply with: kubectl apply -f <this file>. Paths are the ones given',
    '# to lee sweep, inside the container, relative to /data (the PersistentVolumeClaim',
    '# lee-sweep-data; edit to match your storage). Rerunning the Job redoes only missing or',
    '# stale models. Merge afterwards: lee summary <out>.',
    'apiVersion: batch/v1',
    'kind: Job',
    'metadata:',
    `  name: ${q(name)}`,
    'spec:',
    '  completionMode: Indexed',
    `  completions: ${j.tasks}`,
    `  parallelism: ${j.tasks}`,
    `  backoffLimit: ${2 * j.tasks}`,
    '  template:',
    '    spec:',
    '      restartPolicy: Never',
    '      containers:',
    '        - name: lee',
    `          image: ${q(j.image)}`,
    '          workingDir: /data',
    `          command: [${j.command.map(q).join(', ')}]`,
    '          resources: # one GPU a pod; without it a software Vulkan driver in the image runs it',
    '            limits:',
    '              nvidia.com/gpu: 1',
    '          volumeMounts:',
    '            - name: data',
    '              mountPath: /data',
    '      volumes:',
    '        - name: data',
    '          persistentVolumeClaim:',
    '            claimName: lee-sweep-data',
    '',
  ].join('\n');
}
