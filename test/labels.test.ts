import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { classInfo, folderClass, parseLabels, predictions, topOneAccuracy } from '../lee/labels.js';
import { listImages } from '../cli/images.js';
import { IMAGENET_LEMMAS, IMAGENET_SYNSETS } from '../models/imagenet-classes.js';
import { LeeError } from '../engine/errors.js';

describe('ImageNet classes', () => {
  it('are the 1000 synsets in class-index order with their lemmas', () => {
    expect(IMAGENET_SYNSETS).toHaveLength(1000);
    expect(new Set(IMAGENET_SYNSETS).size).toBe(1000);
    // torchvision's and timm's index 0 (tench), 1 (goldfish) and 999 (toilet tissue)
    expect([IMAGENET_SYNSETS[0], IMAGENET_LEMMAS[0]]).toEqual(['n01440764', 'tench, Tinca tinca']);
    expect(IMAGENET_SYNSETS[1]).toBe('n01443537');
    expect(IMAGENET_SYNSETS[999]).toBe('n15075141');
    expect(IMAGENET_LEMMAS[999]).toMatch(/^toilet tissue/);
    expect([...IMAGENET_SYNSETS].sort()).toEqual([...IMAGENET_SYNSETS]);
  });
});

describe('ImageFolder labels', () => {
  const fashion = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

  it('map integer folders to indices, synsets through ImageNet, names through label_names or --labels', () => {
    const imagenet = classInfo(1000);
    expect(folderClass('7', imagenet)).toBe(7);
    expect(folderClass('n01443537', imagenet)).toBe(1);
    expect(imagenet.names![1]).toBe('goldfish');
    const named = classInfo(10, ['cat', 'dog', ...Array.from({ length: 8 }, (_, i) => `c${i}`)]);
    expect(folderClass('dog', named)).toBe(1);
    expect(folderClass('dog', classInfo(10), ['x', 'y', 'dog'])).toBe(2);
    // label_names that are synsets are named by their lemma
    expect(classInfo(2, ['n01440764', 'n01443537']).names).toEqual(['tench', 'goldfish']);
    expect(classInfo(10, fashion).names).toEqual(fashion);
  });

  it('name the folder that maps to no class', () => {
    expect(() => folderClass('zebra', classInfo(10))).toThrow(/image folder 'zebra' maps to no class.*--labels/);
    expect(() => folderClass('zebra', classInfo(1000))).toThrow(LeeError);
    expect(() => folderClass('zebra', classInfo(10), ['a', 'b'])).toThrow(/'zebra'.*not a line of the --labels file/);
    expect(() => folderClass('12', classInfo(10))).toThrow(/class 12, but the model has 10 classes/);
  });

  it('--labels files: one name per line, no blanks or duplicates', () => {
    expect(parseLabels('a\nb\r\nc\n\n', 'l.txt')).toEqual(['a', 'b', 'c']);
    expect(() => parseLabels('a\n\nb\n', 'l.txt')).toThrow(/line 2 is empty/);
    expect(() => parseLabels('a\nb\na\n', 'l.txt')).toThrow(/'a' is on lines 1 and 3/);
    expect(() => parseLabels('\n', 'l.txt')).toThrow(/no class names/);
  });

  it('lists an ImageFolder tree as class/file with its folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lee-folder-'));
    for (const [cls, files] of [['1', ['b.png', 'a.png']], ['0', ['c.png']]] as const) {
      mkdirSync(join(root, cls));
      for (const f of files) await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).png().toFile(join(root, cls, f));
    }
    writeFileSync(join(root, 'README.txt'), 'not an image');
    const entries = await listImages([root]);
    expect(entries.map((e) => [e.name, e.folder])).toEqual([['0/c.png', '0'], ['1/a.png', '1'], ['1/b.png', '1']]);
    const empty = mkdtempSync(join(tmpdir(), 'lee-empty-'));
    mkdirSync(join(empty, 'x'));
    await expect(listImages([empty])).rejects.toThrow(/no PNG or JPEG images in folder/);
  });
});

describe('predictions and accuracy', () => {
  it('take the first maximum and score labelled images only', () => {
    const logits = Float32Array.from([0, 2, 2, /**/ 5, 1, 0, /**/ 0, 0, 1]);
    const p = predictions(logits, classInfo(3, ['a', 'b', 'c']), [1, 2, undefined]);
    expect(p).toEqual([
      { top1: 1, top1Name: 'b', label: 1, acc: 1 },
      { top1: 0, top1Name: 'a', label: 2, acc: 0 },
      { top1: 2, top1Name: 'c' },
    ]);
    expect(topOneAccuracy(p.map((x) => x.top1), [1, 2, undefined])).toEqual({ correct: 1, labelled: 2 });
  });
});
