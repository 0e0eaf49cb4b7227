import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LeeError } from '../engine/errors.js';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json is), from source or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('lee-gpu: package root not found');
    dir = up;
  }
  return dir;
}

export const bundledImages = (): string => join(packageRoot(), 'assets', 'images');
export const samplePhotos = (): string => join(packageRoot(), 'assets', 'photos');
export const demoModels = (): string => join(packageRoot(), 'assets', 'demo');
export const demoImages = (): string => join(packageRoot(), 'assets', 'fashion-mnist');

/** Fail before any work on an output that cannot be written: its folder must exist and
 * be writable, and it must not itself be a folder. `outputs` maps flag to path. */
export function checkOutputs(outputs: Record<string, string | undefined>): void {
  for (const [flag, path] of Object.entries(outputs)) {
    if (path === undefined) continue;
    if (path === '') throw new LeeError(`--${flag} needs a file name`);
    const dir = dirname(resolve(path));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LeeError(`--${flag} ${path}: folder ${dir} does not exist`);
    if (existsSync(path) && statSync(path).isDirectory()) throw new LeeError(`--${flag} ${path} is a folder, not a file`);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new LeeError(`--${flag} ${path}: folder ${dir} is not writable`);
    }
  }
}

/** Write an output file; a failure (disk full, permissions) is one clear message. */
export async function writeOutput(path: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (e) {
    throw new LeeError(`cannot write ${path}: ${(e as Error).message}`);
  }
}
