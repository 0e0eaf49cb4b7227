import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { csvRecords } from '../../lee/csv.js';

/** Wait until the page's current action is over (body[data-busy="0"]). */
export async function idle(page: Page, timeout = 600_000): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.busy === '0', undefined, { timeout, polling: 100 });
}

/** Click, then wait for the action it started to end. */
export async function act(page: Page, selector: string): Promise<void> {
  await page.click(selector);
  await idle(page);
}

/** The bytes of the file a click downloads. */
export async function download(page: Page, selector: string): Promise<Buffer> {
  const failed = page.waitForSelector('#error:not([hidden])', { timeout: 120_000 }).then(
    async () => Promise.reject(new Error(`no download from ${selector}: ${await errorText(page)}`)),
    () => new Promise<never>(() => undefined),
  );
  const [dl] = await Promise.all([Promise.race([page.waitForEvent('download', { timeout: 120_000 }), failed]), page.click(selector)]);
  return readFileSync(await dl.path());
}

/** The page's one error message, or '' when there is none. */
export async function errorText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const box = document.getElementById('error')!;
    return box.hidden ? '' : (box.textContent ?? '');
  });
}

export const gpuBytes = async (page: Page): Promise<number> => Number(await page.getAttribute('#gpu-memory', 'data-bytes'));

/** Every numeric cell of a results table, by row key and column header. */
export async function tableNumbers(page: Page, table: string, key: 'image' | 'model'): Promise<Map<string, Map<string, number>>> {
  const rows = await page.$$eval(
    `${table} tbody tr[data-${key}]`,
    (trs, key) => {
      const heads = [...trs[0]!.closest('table')!.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
      return trs.map((tr) => ({
        key: tr.getAttribute(`data-${key}`)!,
        cells: [...tr.children].map((td, i) => ({ column: heads[i]!, value: (td as HTMLElement).dataset.value })).filter((c) => c.value !== undefined && c.value !== ''),
      }));
    },
    key,
  );
  return new Map(rows.map((r) => [r.key, new Map(r.cells.map((c) => [c.column, Number(c.value)]))]));
}

/** A CSV as header and rows of fields. */
export function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const [header = [], ...rows] = csvRecords(text);
  return { header, rows };
}

const isFloat = (s: string) => s !== '' && Number.isFinite(Number(s)) && !/^-?\d+$/.test(s);

/** Two CSVs with the same header, rows and text fields, and numbers within `rtol`
 * (relative; integers such as top1 and acc exactly). */
export function expectSameCsv(got: string, want: string, rtol: number, what: string): void {
  const a = parseCsv(got);
  const b = parseCsv(want);
  expect(a.header, `${what}: header`).toEqual(b.header);
  expect(a.rows.length, `${what}: rows`).toBe(b.rows.length);
  a.rows.forEach((row, i) => {
    expect(row.length, `${what}: row ${i} fields`).toBe(b.rows[i]!.length);
    row.forEach((cell, j) => {
      const ref = b.rows[i]![j]!;
      const where = `${what}: row ${i + 1} (${b.rows[i]![0]}), ${b.header[j]}`;
      if (isFloat(ref)) expectRel(Number(cell), Number(ref), rtol, where);
      else expect(cell, where).toBe(ref);
    });
  });
}

export function expectRel(got: number, want: number, rtol: number, where: string): void {
  expect(Math.abs(got - want), `${where}: ${got} vs ${want}`).toBeLessThanOrEqual(rtol * Math.abs(want) + 1e-12);
}

/** `node dist/cli/lee.js ...` without blocking the event loop (the browser runs meanwhile). */
export function lee(root: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli/lee.js', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1e3 }));
  });
}

/** Drop files on an element, as a person drags them from a file manager. */
export async function dropFiles(page: Page, selector: string, files: { name: string; mimeType: string; buffer: Buffer }[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, type: f.mimeType, b64: f.buffer.toString('base64') }));
  const transfer = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    return dt;
  }, payload);
  await page.dispatchEvent(selector, 'drop', { dataTransfer: transfer });
}
