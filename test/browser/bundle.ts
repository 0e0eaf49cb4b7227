import { build } from 'vite';
import { refuseNodeOnly } from '../../web/build.js';

/** Bundle `entry` (TypeScript) for the browser with Vite; returns file name -> code. */
export async function bundleForBrowser(entry: string, root: string): Promise<Map<string, string>> {
  const result = await build({
    configFile: false,
    envDir: false,
    publicDir: false,
    logLevel: 'warn',
    root,
    plugins: [refuseNodeOnly()],
    build: {
      write: false,
      target: 'es2022',
      // minified as the web app is: class names are gone, layer names must not be
      minify: true,
      sourcemap: false,
      modulePreload: false,
      copyPublicDir: false,
      lib: { entry, formats: ['es'], fileName: () => 'entry.js' },
    },
  });
  if (!Array.isArray(result) && !('output' in result)) throw new Error('vite build returned a watcher');
  const outputs = Array.isArray(result) ? result : [result];
  const files = new Map<string, string>();
  for (const item of outputs.flatMap((o) => o.output)) {
    if (item.type !== 'chunk') continue;
    const literal = item.code.match(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](?:node:[^"']*|webgpu)["']/);
    if (literal) throw new Error(`browser bundle ${item.fileName} imports a Node-only module: ${literal[0]}`);
    files.set(item.fileName, item.code);
  }
  if (!files.has('entry.js')) throw new Error(`browser bundle has no entry.js (got ${[...files.keys()].join(', ')})`);
  return files;
}
