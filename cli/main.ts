import { LeeError } from '../engine/errors.js';
import { shutdown } from '../engine/runtime.js';
import { VERSION } from '../index.js';
import { info, infoHelp } from './commands/info.js';
import { bench, benchHelp } from './commands/bench.js';
import { models, modelsHelp } from './commands/models.js';
import { e2e, e2eHelp } from './commands/e2e.js';
import { layerwise, layerwiseHelp } from './commands/layerwise.js';
import { sweep, sweepHelp } from './commands/sweep.js';
import { summary, summaryHelp } from './commands/summary.js';

interface Command {
  run: (argv: string[]) => Promise<void>;
  help: string;
  summary: string;
}

const COMMANDS: Record<string, Command> = {
  info: { run: info, help: infoHelp, summary: 'print the WebGPU adapter and engine version' },
  e2e: { run: e2e, help: e2eHelp, summary: 'end-to-end Lie derivatives of every image (default: the embedded model and images)' },
  layerwise: { run: layerwise, help: layerwiseHelp, summary: 'exact per-layer attribution of the Lie derivative (default: the embedded model and images)' },
  models: { run: models, help: modelsHelp, summary: 'list the architectures, with parameter counts and preprocessing' },
  bench: { run: bench, help: benchHelp, summary: 'measure kernel throughput (GFLOP/s) on this adapter' },
  sweep: { run: sweep, help: sweepHelp, summary: 'a study: many models on the same images, resumable, sharded onto Slurm / Kubernetes' },
  summary: { run: summary, help: summaryHelp, summary: "merge a sweep's outputs into one table and draw the paper's figures (SVG)" },
};

export const usage = `lee ${VERSION} — exact Lie derivatives of vision models on WebGPU

usage: lee <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run \`lee <command> --help\` for a command's options.`;

/** Run the CLI; returns the exit code. User errors print one line, bugs keep their stack. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(VERSION);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`lee: unknown command '${name}'\n\n${usage}`);
    return 1;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (e) {
    if (e instanceof LeeError) {
      console.error(`lee ${name}: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    await shutdown().catch(() => undefined);
  }
}
