import { demoOrder } from '../lee/plan.js';

// What the site ships: the demo models, the Fashion-MNIST test images they run on, the
// synthetic images of the random default and the sample photos, each a file of the
// build (Vite resolves these globs when it builds; an absent folder gives none).

/** A bundled image: the name reports give it (`class/file` in an ImageFolder tree, as
 * the CLI names it), its class folder, and its URL in the site. */
export interface BundledImage {
  name: string;
  folder?: string;
  url: string;
}

export interface DemoModel {
  id: string;
  config: string;
  weights: string;
}

type Urls = Record<string, string>;
// (Vite reads each glob's options literally, so they are spelled out in every call)
const demoConfigs: Urls = import.meta.glob('../assets/demo/*/config.json', { query: '?url', import: 'default', eager: true });
const demoWeights: Urls = import.meta.glob('../assets/demo/*/model.safetensors', { query: '?url', import: 'default', eager: true });
const fashion: Urls = import.meta.glob('../assets/fashion-mnist/*/*.{png,jpg,jpeg}', { query: '?url', import: 'default', eager: true });
const synthetic: Urls = import.meta.glob('../assets/images/*.{png,jpg,jpeg}', { query: '?url', import: 'default', eager: true });
const photos: Urls = import.meta.glob('../assets/photos/*.{png,jpg,jpeg}', { query: '?url', import: 'default', eager: true });

const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Files of one folder (named by file), or of an ImageFolder tree (named `class/file`),
 * sorted as the CLI lists them. */
function images(found: Urls, tree: boolean): BundledImage[] {
  return Object.entries(found)
    .map(([path, url]) => {
      const parts = path.split('/');
      return { file: parts[parts.length - 1]!, folder: parts[parts.length - 2]!, url };
    })
    .sort((a, b) => (tree ? order(a.folder, b.folder) : 0) || order(a.file, b.file))
    .map(({ file, folder, url }) => (tree ? { name: `${folder}/${file}`, folder, url } : { name: file, url }));
}

const idOf = (path: string) => path.split('/').slice(-2)[0]!;

/** The demo models with both files, in report order. */
export const DEMO_MODELS: DemoModel[] = demoOrder(Object.keys(demoConfigs).map(idOf))
  .map((id) => ({
    id,
    config: demoConfigs[`../assets/demo/${id}/config.json`]!,
    weights: demoWeights[`../assets/demo/${id}/model.safetensors`]!,
  }))
  .filter((m) => m.weights !== undefined);

export const FASHION_IMAGES = images(fashion, true);
export const SYNTHETIC_IMAGES = images(synthetic, false);
export const SAMPLE_PHOTOS = images(photos, false);
