#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { main } from './main.js';
import { dawnNoiseFilter } from './stderr.js';

// Dawn writes its adapter-start warnings to fd 2 from native code, so the command runs
// in a child whose stderr passes through a filter; LEE_INPROCESS=1 runs it here.
if (process.env.LEE_INPROCESS === '1') {
  process.exitCode = await main(process.argv.slice(2));
} else {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, LEE_INPROCESS: '1', LEE_STDERR_TTY: process.stderr.isTTY ? '1' : '' },
  });
  const filter = dawnNoiseFilter((text) => process.stderr.write(text));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => filter.push(chunk));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  filter.end();
  process.exitCode = signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1);
}
