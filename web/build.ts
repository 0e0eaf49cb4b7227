import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { InlineConfig, Plugin } from 'vite';

/** Modules that exist only under Node: a browser bundle must not contain any. */
const NODE_ONLY = new Set([...builtinModules, 'webgpu', 'sharp']);

function nodeOnly(specifier: string): boolean {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('\0')) return false;
  if (specifier.startsWith('node:')) return true;
  return NODE_ONLY.has(specifier.split('/')[0]!);
}

/** Vite would quietly swap a Node builtin for an empty stub; fail the build instead, and
 * check what was bundled for stubs that slipped through a dependency's own imports. */
export function refuseNodeOnly(): Plugin {
  return {
    name: 'lee-refuse-node-only',
    enforce: 'pre',
    resolveId(source, importer) {
      if (nodeOnly(source)) this.error(`browser bundle imports the Node-only module "${source}" (from ${importer ?? 'the entry'})`);
      return null;
    },
    generateBundle(_, bundle) {
      for (const item of Object.values(bundle)) {
        if (item.type !== 'chunk') continue;
        const stubbed = item.moduleIds.filter((id) => id.includes('__vite-browser-external') || /[\\/]node_modules[\\/](webgpu|sharp)[\\/]/.test(id));
        if (stubbed.length > 0) this.error(`browser bundle ${item.fileName} pulled in Node-only modules: ${stubbed.join(', ')}`);
      }
    },
  };
}

export const WEB_ROOT = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The web app's Vite config: a static site with relative asset paths (it works from any
 * folder of any static server), minified, the bundled models and images as files. */
export function webConfig(outDir = fileURLToPath(new URL('./dist', import.meta.url))): InlineConfig {
  return {
    configFile: false,
    root: WEB_ROOT,
    base: './',
    publicDir: false,
    envDir: false,
    logLevel: 'warn',
    plugins: [refuseNodeOnly()],
    server: { fs: { allow: [REPO_ROOT] }, watch: { ignored: ['**/dist/**'] } },
    // the dev server pre-bundles from the page, not from a build lying in web/dist
    optimizeDeps: { entries: ['index.html'] },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      minify: true,
      sourcemap: false,
      // every bundled model and image is a file of its own, fetched when it is used
      assetsInlineLimit: 0,
      chunkSizeWarningLimit: 4096,
      reportCompressedSize: false,
      // a build on a busy 2-core machine is slow enough to draw timing warnings
      rolldownOptions: { checks: { bundlerTimings: false } },
    },
  };
}
