import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listImages } from '../cli/images.js';
import { imageFiles, type Chosen } from '../web/files.js';

// The page reads a chosen folder as `lee --images FOLDER` does (cli/images.ts listImages):
// the same names, labels (class folders) and order.

/** A folder's files as a browser hands over a chosen folder: `folder/sub/file` paths, in
 * an order of its own (here reversed). */
function chosenFolder(root: string): Chosen[] {
  const out: Chosen[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ file: new File([new Uint8Array(1)], name), path: `top/${relative(root, p)}` });
    }
  };
  walk(root);
  return out.reverse();
}

function tree(files: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'lee-files-'));
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), 'x');
  }
  return root;
}

describe('choosing image files in the page', () => {
  it('an ImageFolder tree: class/file names and labels in the CLI order, other files ignored', async () => {
    const root = tree(['T-shirt/b.png', 'T-shirt/a.JPG', 'T/z.jpeg', 'T/10.png', 'T/9.png', 'a b/x.png', 'T/notes.txt', 'Z/c.png']);
    const got = imageFiles(chosenFolder(root));
    const want = await listImages([root]);
    expect(got.map((g) => [g.name, g.folder])).toEqual(want.map((w) => [w.name, w.folder]));
  });

  it('a folder holding images: those, sorted, and not its sub-folders', async () => {
    const root = tree(['b.png', 'a.jpg', 'sub/c.png', 'readme.md']);
    const got = imageFiles(chosenFolder(root));
    expect(got.map((g) => [g.name, g.folder])).toEqual((await listImages([root])).map((w) => [w.name, w.folder]));
  });

  it('single files keep the order they were given in', () => {
    const files = ['z.png', 'a.png', 'm.jpg'].map((name) => ({ file: new File([new Uint8Array(1)], name), path: name }));
    expect(imageFiles(files).map((f) => f.name)).toEqual(['z.png', 'a.png', 'm.jpg']);
  });

  it('no image among them is one message', () => {
    expect(() => imageFiles([{ file: new File(['x'], 'notes.txt'), path: 'notes.txt' }])).toThrow(/no PNG or JPEG images among notes\.txt/);
  });
});
