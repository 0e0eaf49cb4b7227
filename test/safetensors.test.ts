import { readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeeError } from '../engine/errors.js';
import {
  encodeSafetensors,
  floatToBf16Bits,
  floatToHalfBits,
  loadSafetensors,
  parseSafetensors,
  saveSafetensors,
  type SafetensorsDType,
} from '../engine/safetensors.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'lee-safetensors-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** Build a file by hand from a header (object or raw string) and raw data bytes,
 * without the encoder: 8-byte little-endian length, header, data. */
function handBuilt(header: unknown, data: ArrayLike<number> = [], pad = 0): Uint8Array<ArrayBuffer> {
  const text = (typeof header === 'string' ? header : JSON.stringify(header)) + ' '.repeat(pad);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}

const le16 = (...bits: number[]) => bits.flatMap((b) => [b & 0xff, b >> 8]);
const le32f = (...xs: number[]) => Array.from(new Uint8Array(new Float32Array(xs).buffer));
const le64f = (...xs: number[]) => Array.from(new Uint8Array(new Float64Array(xs).buffer));
const le64i = (...xs: bigint[]) => Array.from(new Uint8Array(new BigInt64Array(xs).buffer));

let fileCount = 0;
async function toFile(bytes: Uint8Array): Promise<string> {
  const path = join(dir, `f${fileCount++}.safetensors`);
  await writeFile(path, bytes);
  return path;
}

/** Expect a LeeError matching `pattern` from both the in-memory and the file path. */
async function expectCorrupt(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  let caught: unknown;
  try { parseSafetensors(bytes, 'x.safetensors'); } catch (err) { caught = err; }
  expect(caught).toBeInstanceOf(LeeError);
  expect((caught as Error).message).toMatch(pattern);
  const path = await toFile(bytes);
  const fromFile = await loadSafetensors(path).then(() => undefined, (err: unknown) => err);
  expect(fromFile).toBeInstanceOf(LeeError);
  expect((fromFile as Error).message).toMatch(pattern);
  expect((fromFile as Error).message).toContain(path);
}

describe('encoder against the format', () => {
  it('writes header length, space-padded JSON and contiguous little-endian data byte for byte', () => {
    const bytes = encodeSafetensors(
      { a: { shape: [2], data: [1, -2] }, b: { shape: [], data: [0.5], dtype: 'F16' } },
      { format: 'pt' },
    );
    const json = '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
      + '"b":{"dtype":"F16","shape":[],"data_offsets":[8,10]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    expect(padded.length % 8).toBe(0);
    const expected = [
      padded.length & 0xff, padded.length >> 8, 0, 0, 0, 0, 0, 0,
      ...Array.from(padded, (c) => c.charCodeAt(0)),
      0x00, 0x00, 0x80, 0x3f, // 1.0f
      0x00, 0x00, 0x00, 0xc0, // -2.0f
      0x00, 0x38, // 0.5 as half
    ];
    expect(Array.from(bytes)).toEqual(expected);
  });

  it('writes BF16 and F64 bit patterns', () => {
    const bytes = encodeSafetensors({ h: { shape: [2], data: [1, -2], dtype: 'BF16' }, d: { shape: [1], data: [0.1], dtype: 'F64' } });
    const headerLength = new DataView(bytes.buffer).getUint32(0, true);
    const data = Array.from(bytes.subarray(8 + headerLength));
    expect(data).toEqual([0x80, 0x3f, 0x00, 0xc0, ...le64f(0.1)]);
  });

  it('rejects bad input with LeeError', () => {
    expect(() => encodeSafetensors({ a: { shape: [3], data: [1, 2] } })).toThrow(/3 elements\) but 2 values/);
    expect(() => encodeSafetensors({ a: { shape: [-1], data: [] } })).toThrow(LeeError);
    expect(() => encodeSafetensors({ __metadata__: { shape: [], data: [1] } })).toThrow(/reserved/);
    expect(() => encodeSafetensors({ a: { shape: [1], data: [1], dtype: 'I8' as SafetensorsDType } })).toThrow(/unsupported dtype/);
  });
});

describe('half and bfloat16 bits', () => {
  it('rounds f32 to half to nearest even', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00],
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001], [1023 * 2 ** -24, 0x03ff],
      [2 ** -14, 0x0400], [0, 0x0000], [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00],
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01],
      [2.5 * 2 ** -24, 0x0002], [3.5 * 2 ** -24, 0x0004],
    ];
    for (const [x, bits] of cases) expect([x, floatToHalfBits(x)]).toEqual([x, bits]);
    expect(floatToHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalfBits(NaN) & 0x3ff).not.toBe(0);
  });

  it('rounds f32 to bfloat16 to nearest even', () => {
    const cases: [number, number][] = [
      [1, 0x3f80], [-2, 0xc000], [Infinity, 0x7f80], [-Infinity, 0xff80], [3.4028234663852886e38, 0x7f80],
      [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [1 + 2 ** -8 + 2 ** -20, 0x3f81],
      [2 ** -130, 0x0008], [-0, 0x8000],
    ];
    for (const [x, bits] of cases) expect([x, floatToBf16Bits(x)]).toEqual([x, bits]);
    expect(floatToBf16Bits(NaN) & 0x7f80).toBe(0x7f80);
    expect(floatToBf16Bits(NaN) & 0x7f).not.toBe(0);
  });
});

describe('decoder against the format', () => {
  // Tensors listed out of data order, header length not a multiple of 8 so the data
  // sits at odd byte offsets, and an I64 counter as in timm state dicts.
  const header = {
    half: { dtype: 'F16', shape: [7], data_offsets: [12, 26] },
    single: { dtype: 'F32', shape: [1, 3], data_offsets: [0, 12] },
    bf: { dtype: 'BF16', shape: [4], data_offsets: [26, 34] },
    double: { dtype: 'F64', shape: [2], data_offsets: [34, 50] },
    'bn.num_batches_tracked': { dtype: 'I64', shape: [], data_offsets: [50, 58] },
    mask: { dtype: 'BOOL', shape: [2], data_offsets: [58, 60] },
    __metadata__: { format: 'pt' },
  };
  const data = [
    ...le32f(1.5, -0, 3e-40),
    ...le16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0xfc00, 0x7e00),
    ...le16(0x3f80, 0xc000, 0x7f80, 0x7fc0),
    ...le64f(0.1, 1e300),
    ...le64i(12345n),
    1, 0,
  ];
  const bytes = handBuilt(JSON.stringify(header), data, 1);

  it('decodes every dtype from unaligned data', () => {
    expect((8 + new DataView(bytes.buffer).getUint32(0, true)) % 4).not.toBe(0);
    const file = parseSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual(['half', 'single', 'bf', 'double', 'bn.num_batches_tracked', 'mask']);
    expect(file.metadata).toEqual({ format: 'pt' });
    const single = file.tensors.get('single')!;
    expect(single.shape).toEqual([1, 3]);
    expect(single.dtype).toBe('F32');
    expect(Array.from(single.data)).toEqual([1.5, -0, Math.fround(3e-40)]);
    const half = Array.from(file.tensors.get('half')!.data);
    expect(half.slice(0, 6)).toEqual([1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, -Infinity]);
    expect(half[6]).toBeNaN();
    const bf = Array.from(file.tensors.get('bf')!.data);
    expect(bf.slice(0, 3)).toEqual([1, -2, Infinity]);
    expect(bf[3]).toBeNaN();
    expect(Array.from(file.tensors.get('double')!.data)).toEqual([Math.fround(0.1), Infinity]);
    const counter = file.tensors.get('bn.num_batches_tracked')!;
    expect(counter).toMatchObject({ shape: [], dtype: 'I64' });
    expect(Array.from(counter.data)).toEqual([12345]);
    expect(Array.from(file.tensors.get('mask')!.data)).toEqual([1, 0]);
  });

  it('gives the same tensors from a path, an ArrayBuffer and a Blob, and honours skip', async () => {
    const expected = parseSafetensors(bytes);
    const path = await toFile(bytes);
    const buffer = bytes.slice().buffer;
    for (const file of [
      await loadSafetensors(path),
      await loadSafetensors(buffer),
      await loadSafetensors(bytes),
      await loadSafetensors(new Blob([bytes])),
      // a Node Buffer: its slice() aliases a shared pool instead of copying
      await loadSafetensors(readFileSync(path)),
    ]) {
      expect(file.metadata).toEqual(expected.metadata);
      expect(file.tensors).toEqual(expected.tensors);
      for (const t of file.tensors.values()) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
    }
    const skipped = await loadSafetensors(path, { skip: (k) => k.endsWith('num_batches_tracked') });
    expect(skipped.tensors.has('bn.num_batches_tracked')).toBe(false);
    expect(skipped.tensors.size).toBe(5);
  });

  it('decodes 8-bit floats and integer dtypes', () => {
    const file = parseSafetensors(handBuilt({
      e4: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] },
      e5: { dtype: 'F8_E5M2', shape: [3], data_offsets: [4, 7] },
      i8: { dtype: 'I8', shape: [2], data_offsets: [7, 9] },
      u16: { dtype: 'U16', shape: [1], data_offsets: [9, 11] },
      i32: { dtype: 'I32', shape: [1], data_offsets: [11, 15] },
    }, [0x38, 0x7e, 0x01, 0xff, 0x3c, 0x7c, 0x01, 0xff, 0x7f, 0x34, 0x12, 0xfe, 0xff, 0xff, 0xff]));
    const e4 = Array.from(file.tensors.get('e4')!.data);
    expect(e4.slice(0, 3)).toEqual([1, 448, 2 ** -9]);
    expect(e4[3]).toBeNaN();
    expect(Array.from(file.tensors.get('e5')!.data)).toEqual([1, Infinity, 2 ** -16]);
    expect(Array.from(file.tensors.get('i8')!.data)).toEqual([-1, 127]);
    expect(Array.from(file.tensors.get('u16')!.data)).toEqual([0x1234]);
    expect(Array.from(file.tensors.get('i32')!.data)).toEqual([-2]);
  });
});

describe('round trip', () => {
  // Seeded values spanning many magnitudes, plus edge values.
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const values = [
    0, -0, 1, -1, 0.5, 3.14159, -65504, 1e-6, 2 ** -20,
    ...Array.from({ length: 200 }, () => (random() - 0.5) * 2 ** Math.floor(random() * 24 - 12)),
  ];

  const tolerance: Record<SafetensorsDType, number> = { F32: 0, F64: 0, F16: 2 ** -11, BF16: 2 ** -8 };

  for (const dtype of ['F32', 'F64', 'F16', 'BF16'] as const) {
    it(`${dtype} via bytes and via a file`, async () => {
      const tensors = {
        w: { shape: [values.length], data: values, dtype },
        edge: { shape: [3], data: [Infinity, -Infinity, NaN], dtype },
      };
      const path = join(dir, `rt-${dtype}.safetensors`);
      await saveSafetensors(path, tensors);
      for (const file of [parseSafetensors(encodeSafetensors(tensors)), await loadSafetensors(path)]) {
        const w = file.tensors.get('w')!;
        expect(w.dtype).toBe(dtype);
        expect(w.shape).toEqual([values.length]);
        values.forEach((x, i) => {
          const y = w.data[i]!;
          if (tolerance[dtype] === 0) expect(y).toBe(Math.fround(x));
          else if (Math.abs(x) < 2 ** -14 && dtype === 'F16') expect(Math.abs(y - x)).toBeLessThanOrEqual(2 ** -25);
          else expect(Math.abs(y - x)).toBeLessThanOrEqual(Math.abs(x) * tolerance[dtype]);
        });
        const edge = Array.from(file.tensors.get('edge')!.data);
        expect(edge.slice(0, 2)).toEqual([Infinity, -Infinity]);
        expect(edge[2]).toBeNaN();
      }
    });
  }

  it('F64 rounds to the nearest f32', () => {
    const xs = [0.1, 1 / 3, 1e-40, 1e300, -1e300, 16777217];
    const file = parseSafetensors(encodeSafetensors({ d: { shape: [xs.length], data: xs, dtype: 'F64' } }));
    expect(Array.from(file.tensors.get('d')!.data)).toEqual(xs.map(Math.fround));
  });

  it('keeps metadata, scalars, zero-size tensors and key order', async () => {
    const metadata = { format: 'pt', note: 'ünïcode ✓', empty: '' };
    const tensors = {
      z: { shape: [], data: [42] },
      empty: { shape: [0], data: [] },
      'a.b': { shape: [2, 0, 3], data: [], dtype: 'F16' as const },
      m: { shape: [2, 2], data: [1, 2, 3, 4], dtype: 'BF16' as const },
    };
    const path = join(dir, 'meta.safetensors');
    await saveSafetensors(path, tensors, metadata);
    for (const file of [parseSafetensors(encodeSafetensors(tensors, metadata)), await loadSafetensors(path)]) {
      expect(file.metadata).toEqual(metadata);
      expect([...file.tensors.keys()]).toEqual(['z', 'empty', 'a.b', 'm']);
      expect(file.tensors.get('z')).toEqual({ shape: [], data: new Float32Array([42]), dtype: 'F32' });
      expect(file.tensors.get('empty')).toEqual({ shape: [0], data: new Float32Array(0), dtype: 'F32' });
      expect(file.tensors.get('a.b')).toEqual({ shape: [2, 0, 3], data: new Float32Array(0), dtype: 'F16' });
      expect(Array.from(file.tensors.get('m')!.data)).toEqual([1, 2, 3, 4]);
    }
    expect(parseSafetensors(encodeSafetensors({})).tensors.size).toBe(0);
    expect(parseSafetensors(encodeSafetensors({})).metadata).toEqual({});
  });

  it('names a File in its errors', async () => {
    const file = new File([new Uint8Array(3)], 'weights.safetensors');
    await expect(loadSafetensors(file)).rejects.toThrow(/weights\.safetensors: too short/);
    const good = encodeSafetensors({ a: { shape: [1], data: [7] } });
    const loaded = await loadSafetensors(new File([good], 'ok.safetensors'));
    expect(Array.from(loaded.tensors.get('a')!.data)).toEqual([7]);
  });
});

describe('corrupt files', () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const eight = new Array(8).fill(0);

  it('too short', async () => {
    await expectCorrupt(new Uint8Array(0), /too short/);
    await expectCorrupt(new Uint8Array(5), /too short/);
  });

  it('garbage and huge header lengths', async () => {
    let s = 7;
    const garbage = Uint8Array.from({ length: 4096 }, () => (s = (s * 75 + 74) % 65537) & 0xff);
    await expectCorrupt(garbage, /header too large/);
    const huge = new Uint8Array(64);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    await expectCorrupt(huge, /header too large/);
    new DataView(huge.buffer).setBigUint64(0, 100_000_001n, true);
    await expectCorrupt(huge, /header too large/);
  });

  it('header longer than the file', async () => {
    const bytes = handBuilt({ a: ok }, eight);
    await expectCorrupt(bytes.subarray(0, 20), /file truncated: the header needs/);
  });

  it('header not JSON or not an object', async () => {
    await expectCorrupt(handBuilt('{"a": '), /header is not valid JSON/);
    await expectCorrupt(handBuilt('hello world'), /header is not valid JSON/);
    const badUtf8 = handBuilt('{"a":{}}');
    badUtf8[10] = 0xff;
    await expectCorrupt(badUtf8, /header is not valid JSON/);
    await expectCorrupt(handBuilt('[1, 2]'), /header is not a JSON object/);
    await expectCorrupt(handBuilt('null'), /header is not a JSON object/);
  });

  it('bad __metadata__', async () => {
    await expectCorrupt(handBuilt({ __metadata__: { n: 3 } }), /"__metadata__" value for 'n' must be a string/);
    await expectCorrupt(handBuilt({ __metadata__: 'x' }), /"__metadata__" must be an object/);
  });

  it('entries missing fields or with wrong types', async () => {
    await expectCorrupt(handBuilt({ w: 5 }), /tensor 'w' must be an object/);
    await expectCorrupt(handBuilt({ w: { shape: [2], data_offsets: [0, 8] } }, eight), /tensor 'w' is missing "dtype"/);
    await expectCorrupt(handBuilt({ w: { dtype: 'F32', data_offsets: [0, 8] } }, eight), /tensor 'w' is missing "shape"/);
    await expectCorrupt(handBuilt({ w: { dtype: 'F32', shape: [2] } }, eight), /tensor 'w' is missing "data_offsets"/);
    await expectCorrupt(handBuilt({ w: { ...ok, dtype: 4 } }, eight), /tensor 'w': "dtype" must be a string/);
    await expectCorrupt(handBuilt({ w: { ...ok, shape: '2' } }, eight), /tensor 'w': "shape" must be an array/);
    await expectCorrupt(handBuilt({ w: { ...ok, shape: ['2'] } }, eight), /tensor 'w': "shape" must be an array/);
    await expectCorrupt(handBuilt({ w: { ...ok, data_offsets: [8] } }, eight), /tensor 'w': "data_offsets" must be an array of two/);
    await expectCorrupt(handBuilt({ w: { ...ok, data_offsets: [0, '8'] } }, eight), /tensor 'w': "data_offsets" must be an array of two/);
  });

  it('unknown dtype', async () => {
    await expectCorrupt(handBuilt({ w: { ...ok, dtype: 'F12' } }, eight), /tensor 'w' has unknown dtype 'F12'/);
    await expectCorrupt(handBuilt({ w: { ...ok, dtype: 'constructor' } }, eight), /unknown dtype 'constructor'/);
  });

  it('negative or non-integer dimensions', async () => {
    await expectCorrupt(handBuilt({ w: { ...ok, shape: [-2, -1] } }, eight), /tensor 'w' has shape \[-2, -1\] with a negative or non-integer dimension/);
    await expectCorrupt(handBuilt({ w: { ...ok, shape: [2.5] } }, eight), /negative or non-integer dimension/);
  });

  it('offsets out of range, reversed or of the wrong size', async () => {
    await expectCorrupt(handBuilt({ w: { ...ok, data_offsets: [0, 1e20] } }, eight), /tensor 'w' data_offsets \[0, 100000000000000000000\] out of range/);
    await expectCorrupt(handBuilt({ w: { ...ok, data_offsets: [-8, 0] } }, eight), /tensor 'w' .*out of range/);
    await expectCorrupt(handBuilt({ w: { ...ok, data_offsets: [8, 0] } }, eight), /tensor 'w' data_offsets \[8, 0\] end before begin/);
    await expectCorrupt(handBuilt({ w: { ...ok, data_offsets: [0, 4] } }, eight), /tensor 'w' byte size mismatch: .* needs 8 bytes .* span 4/);
    await expectCorrupt(handBuilt({ w: { ...ok, dtype: 'F16' } }, eight), /tensor 'w' byte size mismatch/);
  });

  it('overlapping or non-contiguous offsets', async () => {
    const sixteen = new Array(16).fill(0);
    await expectCorrupt(handBuilt({ a: ok, b: { ...ok, data_offsets: [4, 12] } }, sixteen), /tensor 'b' data_offsets \[4, 12\] overlap tensor 'a'/);
    await expectCorrupt(handBuilt({ a: ok, b: ok }, sixteen), /overlap/);
    await expectCorrupt(handBuilt({ a: ok, b: { ...ok, data_offsets: [12, 20] } }, new Array(20).fill(0)), /gap in the data section: bytes \[8, 12\) before tensor 'b'/);
    await expectCorrupt(handBuilt({ a: { ...ok, data_offsets: [4, 12] } }, new Array(12).fill(0)), /gap .* before tensor 'a'/);
  });

  it('data section shorter or longer than the tensors', async () => {
    const bytes = encodeSafetensors({ a: { shape: [4], data: [1, 2, 3, 4] }, b: { shape: [3], data: [5, 6, 7] } });
    await expectCorrupt(bytes.subarray(0, bytes.length - 5), /file truncated: its tensors need 28 bytes of data but only 23/);
    await expectCorrupt(handBuilt({ a: ok }, new Array(11).fill(0)), /3 trailing bytes after the last tensor/);
  });

  it('unreadable paths', async () => {
    const missing = join(dir, 'does-not-exist.safetensors');
    await expect(loadSafetensors(missing)).rejects.toThrow(LeeError);
    await expect(loadSafetensors(missing)).rejects.toThrow(`cannot read ${missing}: no such file`);
    await expect(loadSafetensors(dir)).rejects.toThrow(new RegExp(`cannot read .*: (not a regular file|is a directory)`));
    await expect(saveSafetensors(join(missing, 'x.safetensors'), {})).rejects.toThrow(/cannot write .*: /);
  });
});
