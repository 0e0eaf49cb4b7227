import { LeeError } from '../engine/errors.js';
import { parseSafetensors } from '../engine/safetensors.js';
import { parseCheckpointConfig, type CheckpointConfig } from '../models/checkpoint.js';
import { parseHubId } from '../models/hub-id.js';
import { checkArch, DEFAULT_MODEL, planCheckpoint, planRandom, type ModelPlan } from '../lee/plan.js';
import { DEMO_MODELS, FASHION_IMAGES, SAMPLE_PHOTOS, SYNTHETIC_IMAGES, type BundledImage } from './assets.js';
import { hubFiles, type HubOptions } from './hub.js';

/** The model(s) a run uses, and the bundled images it runs on when none are given
 * (what the CLI picks in the same case). */
export interface ModelSet {
  plans: ModelPlan[];
  /** the embedded demo: several models, reported as `lee e2e` without arguments does */
  demo: boolean;
  /** a line for the page: what was loaded, from where */
  title: string;
  bundled: BundledImage[];
  /** what reports call the bundled images (`input` in the JSON, as the CLI writes it) */
  bundledName: string;
  /** the bundled images, for a person */
  bundledAbout: string;
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new LeeError(`cannot load ${what} from this site (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The embedded default: the bundled demo models on the bundled Fashion-MNIST test
 * images when the site has them, else the seeded random resnet18 on the synthetic
 * images at 64 px (the CLI's fallbacks, the same numbers). */
export async function defaultModels(onStatus: (text: string) => void): Promise<ModelSet> {
  if (DEMO_MODELS.length === 0) {
    onStatus(`building the seeded random ${DEFAULT_MODEL}`);
    const plan = planRandom(DEFAULT_MODEL, undefined, true);
    return { plans: [plan], demo: false, title: `${DEFAULT_MODEL} with RANDOM weights (seed 0), not a trained model`, bundled: SYNTHETIC_IMAGES, bundledName: 'bundled images', bundledAbout: 'synthetic images (assets/images) at 64 px' };
  }
  const plans: ModelPlan[] = [];
  for (const [i, m] of DEMO_MODELS.entries()) {
    onStatus(`loading demo model ${m.id} (${i + 1}/${DEMO_MODELS.length})`);
    const source = `assets/demo/${m.id}`;
    const config = parseCheckpointConfig(new TextDecoder().decode(await fetchBytes(m.config, `${source}/config.json`)), `${source}/config.json`);
    const tensors = parseSafetensors(await fetchBytes(m.weights, `${source}/model.safetensors`), `${source}/model.safetensors`).tensors;
    const arch = checkArch(config.architecture, `${source}/config.json's`);
    plans.push({ ...planCheckpoint(arch, { tensors, config, source }), id: m.id });
  }
  return {
    plans,
    demo: true,
    title: `the ${plans.length} bundled demo model${plans.length > 1 ? 's' : ''}, trained on Fashion-MNIST`,
    bundled: FASHION_IMAGES,
    bundledName: 'assets/fashion-mnist',
    bundledAbout: 'Fashion-MNIST test images (assets/fashion-mnist), labelled by their class folders',
  };
}

/** The architecture of a checkpoint: config.json's, which a chosen one must agree with,
 * else the chosen one. */
function archOf(chosen: string, config: CheckpointConfig | undefined, source: string): string {
  if (config) {
    const arch = checkArch(config.architecture, `${source}'s`);
    if (chosen && chosen !== arch) throw new LeeError(`the chosen architecture ${chosen} does not match ${source}, whose architecture is ${arch} (choose "from config.json" to use it)`);
    return arch;
  }
  if (!chosen) throw new LeeError('choose the architecture of these weights (there is no config.json to read it from)');
  return checkArch(chosen, 'the chosen');
}

const trained = (plan: ModelPlan, title: string): ModelSet => ({ plans: [plan], demo: false, title, bundled: SAMPLE_PHOTOS, bundledName: 'sample photos', bundledAbout: 'sample photos (assets/photos)' });

/** A dropped or chosen `.safetensors` (a timm state_dict) and, optionally, its config.json. */
export async function fileModel(weights: File, config: File | undefined, chosenArch: string, numHeads?: number): Promise<ModelSet> {
  if (!/\.safetensors$/i.test(weights.name)) throw new LeeError(`${weights.name} is not a .safetensors file (timm weights saved with safetensors.torch.save_file, or a hub checkpoint's model.safetensors)`);
  const tensors = parseSafetensors(new Uint8Array(await weights.arrayBuffer()), weights.name).tensors;
  const cfg = config ? parseCheckpointConfig(await config.text(), config.name) : undefined;
  const arch = archOf(chosenArch, cfg, config?.name ?? 'config.json');
  const plan = planCheckpoint(arch, { tensors, config: cfg, source: weights.name }, numHeads);
  return trained(plan, `${plan.id} from ${weights.name}${config ? ` and ${config.name}` : ''}`);
}

/** A hub id (`timm/resnet50.a1_in1k`, `hf-hub:` and `@revision` allowed), fetched by
 * the browser and cached. */
export async function hubModel(idText: string, opts: HubOptions): Promise<ModelSet & { cached: boolean }> {
  const text = idText.trim();
  const id = parseHubId(text);
  if (!id) throw new LeeError(`'${text}' is not a hub model id: hub ids look like timm/resnet50.a1_in1k (an organisation, a '/', a name)`);
  const files = await hubFiles(id, opts);
  const config = parseCheckpointConfig(files.config, `${text}/config.json`);
  const arch = checkArch(config.architecture, `${text}/config.json's`);
  const tensors = parseSafetensors(files.weights, `${text}/model.safetensors`).tensors;
  const plan = planCheckpoint(arch, { tensors, config, source: text, hubId: text });
  return { ...trained(plan, `${text} (${arch}, commit ${files.commit.slice(0, 10)}${files.cached ? ', from the browser cache' : ''})`), cached: files.cached };
}
