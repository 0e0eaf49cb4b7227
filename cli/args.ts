import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LeeError } from '../engine/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parse a sub-command's flags; unknown flags and missing values are user errors. */
export function parseFlags<O extends Options>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new LeeError(`${command}: ${(e as Error).message.replace(/^.*?: /, '')} (see \`lee ${command} --help\`)`);
  }
}

export function intFlag(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new LeeError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

/** Like parseFlags, with positional arguments allowed and returned. */
export function parseCommand<O extends Options>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new LeeError(`${command}: ${(e as Error).message.replace(/^.*?: /, '')} (see \`lee ${command} --help\`)`);
  }
}
