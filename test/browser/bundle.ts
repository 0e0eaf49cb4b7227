import { builtinModules } from 'node:module';
import { build, type Plugin } from 'vite';

/** Modules that exist only under Node: the browser bundle must not contain any. */
const NODE_ONLY = new Set([...builtinModules, 'webgpu']);

function nodeOnly(specifier: string): boolean {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('\0')) return false;
  if (specifier.startsWith('node:')) return true;
  return NODE_ONLY.has(specifier.split('/')[0]!);
}

/** Vite would quietly swap a Node builtin for an empty stub; fail the build instead. */
function refuseNodeOnly(): Plugin {
  return {
    name: 'lee-refuse-node-only',
    enforce: 'pre',
    resolveId(source, importer) {
      if (nodeOnly(source)) this.error(`browser bundle imports the Node-only module "${source}" (from ${importer ?? 'the entry'})`);
      return null;
    },
  };
}

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
      minify: false,
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
    const stubbed = item.moduleIds.filter((id) => id.includes('__vite-browser-external') || /[\\/]node_modules[\\/]webgpu[\\/]/.test(id));
    if (stubbed.length > 0) throw new Error(`browser bundle pulled in Node-only modules: ${stubbed.join(', ')}`);
    const literal = item.code.match(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](?:node:[^"']*|webgpu)["']/);
    if (literal) throw new Error(`browser bundle ${item.fileName} imports a Node-only module: ${literal[0]}`);
    files.set(item.fileName, item.code);
  }
  if (!files.has('entry.js')) throw new Error(`browser bundle has no entry.js (got ${[...files.keys()].join(', ')})`);
  return files;
}
