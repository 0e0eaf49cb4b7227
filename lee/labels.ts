import { LeeError } from '../engine/errors.js';
import { IMAGENET_LEMMAS, IMAGENET_SYNSETS } from '../models/imagenet-classes.js';

/** A model's classes: `ids` are what a folder may be named after (config.json's
 * label_names, or ImageNet synsets for a 1000-class model without them), `names` what
 * a person reads (a synset's first lemma). */
export interface ClassInfo {
  count: number;
  ids?: readonly string[];
  names?: readonly string[];
}

const SYNSET = /^n\d{8}$/;
const LEMMA = new Map(IMAGENET_SYNSETS.map((s, i) => [s, IMAGENET_LEMMAS[i]!.split(',')[0]!.trim()]));

/** The classes of a model with `count` outputs and, if its config has them, label_names. */
export function classInfo(count: number, labelNames?: readonly string[]): ClassInfo {
  if (labelNames && labelNames.length === count) {
    return { count, ids: labelNames, names: labelNames.map((n) => (SYNSET.test(n) ? (LEMMA.get(n) ?? n) : n)) };
  }
  if (count === 1000) return { count, ids: IMAGENET_SYNSETS, names: IMAGENET_SYNSETS.map((s) => LEMMA.get(s)!) };
  return { count };
}

/** The class index of an ImageFolder sub-folder: an integer name is the index; else its
 * line in `labels` (a --labels file, one name per line); else the model's class ids
 * (label_names, ImageNet synsets). */
export function folderClass(folder: string, classes: ClassInfo, labels?: readonly string[]): number {
  let index: number;
  if (/^\d+$/.test(folder)) index = Number(folder);
  else if (labels) index = labels.indexOf(folder);
  else index = classes.ids?.indexOf(folder) ?? -1;
  if (index < 0) {
    const how = labels
      ? 'is not a line of the --labels file'
      : classes.ids
        ? `is not an integer class index, an ImageNet synset or one of the model's label_names, and no --labels file names it`
        : `is not an integer class index, and the model has no label_names: give --labels FILE (one class name per line, line i = class i)`;
    throw new LeeError(`image folder '${folder}' maps to no class: it ${how}`);
  }
  if (index >= classes.count) throw new LeeError(`image folder '${folder}' is class ${index}, but the model has ${classes.count} classes`);
  return index;
}

/** Parse a --labels file: one class name per line, blank lines at the end ignored. */
export function parseLabels(text: string, source: string): string[] {
  const lines = text.replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n').map((l) => l.trim());
  if (lines.length === 0 || lines.every((l) => !l)) throw new LeeError(`${source} has no class names (one per line)`);
  const seen = new Map<string, number>();
  lines.forEach((l, i) => {
    if (!l) throw new LeeError(`${source}: line ${i + 1} is empty (one class name per line)`);
    if (seen.has(l)) throw new LeeError(`${source}: '${l}' is on lines ${seen.get(l)! + 1} and ${i + 1}`);
    seen.set(l, i);
  });
  return lines;
}

/** Top-1 accuracy of predictions against labels, over the labelled images. */
export function topOneAccuracy(pred: readonly number[], label: readonly (number | undefined)[]): { correct: number; labelled: number } {
  let correct = 0;
  let labelled = 0;
  label.forEach((l, i) => {
    if (l === undefined) return;
    labelled++;
    if (pred[i] === l) correct++;
  });
  return { correct, labelled };
}

/** What a model said about one image: its top-1 class (named where the model's classes
 * have names) and, for a labelled image, the label and the paper's `acc` (0 or 1). */
export interface Prediction {
  top1: number;
  top1Name?: string;
  label?: number;
  acc?: 0 | 1;
}

/** Each image's prediction from logits [n, classes] (ties go to the first class). */
export function predictions(logits: Float32Array, classes: ClassInfo, labels: readonly (number | undefined)[]): Prediction[] {
  const c = classes.count;
  return labels.map((label, i) => {
    let top1 = 0;
    for (let k = 1; k < c; k++) if (logits[i * c + k]! > logits[i * c + top1]!) top1 = k;
    const name = classes.names?.[top1];
    return {
      top1,
      ...(name !== undefined ? { top1Name: name } : {}),
      ...(label !== undefined ? { label, acc: top1 === label ? 1 : 0 } : {}),
    };
  });
}
