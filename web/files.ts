import { LeeError } from '../engine/errors.js';

// Which files a person chose or dropped, read as the CLI reads paths: a folder gives the
// images in it, else an ImageFolder tree (one sub-folder per class, images named
// `class/file`), sorted by name; single files keep their order.

/** A chosen or dropped file and its path (`folder/sub/file` when it came in a folder). */
export interface Chosen {
  file: File;
  path: string;
}

export interface ImageFile {
  file: File;
  name: string;
  folder?: string;
}

export const fromInput = (files: FileList | null): Chosen[] => [...(files ?? [])].map((file) => ({ file, path: file.webkitRelativePath || file.name }));

/** Dropped files and folders, folders walked (a browser gives a dropped folder as an
 * entry to read, not as its files). Call it while the drop event runs. */
export async function fromDrop(data: DataTransfer): Promise<Chosen[]> {
  const entries = [...data.items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return fromInput(data.files); // a page-made DataTransfer has none
  const out: Chosen[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ file, path: entry.fullPath.replace(/^\/+/, '') });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const e of batch) await walk(e);
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

const isImage = (f: File) => /\.(png|jpe?g)$/i.test(f.name);
const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The images among chosen files, named and labelled by folder as the CLI's listImages does. */
export function imageFiles(list: readonly Chosen[]): ImageFile[] {
  const paths = list.map((c) => c.path.split('/'));
  const folder = paths.some((p) => p.length > 1);
  const direct = list.some((c, i) => isImage(c.file) && paths[i]!.length === 2);
  const tree = folder && !direct;
  const picked = list
    .map((c, i) => ({ file: c.file, parts: paths[i]! }))
    .filter(({ file, parts }) => isImage(file) && (!folder || parts.length === (tree ? 3 : 2)))
    .map(({ file, parts }): ImageFile => (tree ? { file, name: `${parts[1]}/${parts[2]}`, folder: parts[1]! } : { file, name: file.name }));
  if (picked.length === 0) {
    throw new LeeError(`no PNG or JPEG images among ${list.map((c) => c.file.name).slice(0, 5).join(', ')}${folder ? ' (nor in class sub-folders)' : ''}`);
  }
  if (folder) picked.sort((a, b) => order(a.folder ?? '', b.folder ?? '') || order(a.file.name, b.file.name));
  return picked;
}
