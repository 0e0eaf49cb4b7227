import { LeeError } from './errors.js';

/** Float dtypes we write. Reading also accepts F8_E4M3, F8_E5M2 and the integer/bool
 * dtypes, all converted to f32 (integers beyond 2^24 lose precision): timm state
 * dicts carry I64 `num_batches_tracked`, which callers ignore by key. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64';

export interface HostTensor {
  shape: number[];
  data: Float32Array;
  /** The dtype as stored in the file. */
  dtype: string;
}

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

export interface EncodableTensor {
  shape: number[];
  data: ArrayLike<number>;
  dtype?: SafetensorsDType;
}

export interface LoadOptions {
  /** Name used in error messages (defaults to the path or File name). */
  name?: string;
  /** Keys for which this returns true are validated but not decoded or returned. */
  skip?: (key: string) => boolean;
}

/** Same bound as the reference implementation. */
const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1,
};

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

interface Entry {
  key: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

interface Header {
  entries: Entry[];
  metadata: Record<string, string>;
}

// ---- parsing -------------------------------------------------------------------

/** Parse a whole safetensors file held in memory. */
export function parseSafetensors(bytes: Uint8Array, name = 'safetensors data'): SafetensorsFile {
  return parseWithSkip(bytes, name);
}

function parseWithSkip(bytes: Uint8Array, name: string, skip?: (key: string) => boolean): SafetensorsFile {
  const headerLength = readHeaderLength(bytes, bytes.length, name);
  const dataStart = 8 + headerLength;
  const header = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, name);
  const tensors = new Map<string, HostTensor>();
  for (const e of header.entries) {
    if (skip?.(e.key)) continue;
    tensors.set(e.key, decodeTensor(bytes.subarray(dataStart + e.begin, dataStart + e.end), e, false));
  }
  return { tensors, metadata: header.metadata };
}

/** Parse bytes (browser File/Blob, ArrayBuffer, Uint8Array) or a Node file path. A path
 * or Blob is read in pieces: the header first, then one tensor at a time. */
export async function loadSafetensors(
  source: string | ArrayBuffer | Uint8Array | Blob,
  opts: LoadOptions = {},
): Promise<SafetensorsFile> {
  if (typeof source === 'string') return loadFromPath(source, opts);
  if (source instanceof ArrayBuffer) return parseWithSkip(new Uint8Array(source), opts.name ?? 'safetensors data', opts.skip);
  if (source instanceof Uint8Array) return parseWithSkip(source, opts.name ?? 'safetensors data', opts.skip);
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = opts.name ?? ((source as { name?: unknown }).name as string | undefined) ?? 'safetensors blob';
    const read = async (offset: number, length: number) =>
      new Uint8Array(await source.slice(offset, offset + length).arrayBuffer());
    return loadPieces(source.size, read, name, opts.skip);
  }
  throw new LeeError('loadSafetensors: expected a file path, ArrayBuffer, Uint8Array or Blob');
}

async function loadPieces(
  size: number,
  read: (offset: number, length: number) => Promise<Uint8Array>,
  name: string,
  skip?: (key: string) => boolean,
): Promise<SafetensorsFile> {
  const headerLength = readHeaderLength(await read(0, Math.min(8, size)), size, name);
  const dataStart = 8 + headerLength;
  const header = parseHeader(await read(8, headerLength), size - dataStart, name);
  const tensors = new Map<string, HostTensor>();
  // The pieces come fresh from `read`, so decoding may reuse their buffers.
  for (const e of header.entries) {
    if (skip?.(e.key)) continue;
    tensors.set(e.key, decodeTensor(await read(dataStart + e.begin, e.end - e.begin), e, true));
  }
  return { tensors, metadata: header.metadata };
}

async function loadFromPath(path: string, opts: LoadOptions): Promise<SafetensorsFile> {
  const fs = await nodeFs();
  const name = opts.name ?? path;
  let handle: Awaited<ReturnType<typeof fs.open>>;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw fileError('read', path, err);
  }
  try {
    const stat = await handle.stat().catch((err: unknown) => { throw fileError('read', path, err); });
    if (!stat.isFile()) throw new LeeError(`cannot read ${path}: not a regular file`);
    const read = async (offset: number, length: number): Promise<Uint8Array> => {
      const buf = new Uint8Array(length);
      for (let done = 0; done < length;) {
        const { bytesRead } = await handle.read(buf, done, length - done, offset + done)
          .catch((err: unknown) => { throw fileError('read', path, err); });
        if (bytesRead === 0) throw new LeeError(`${name}: file ended while reading (truncated, or changed while being read)`);
        done += bytesRead;
      }
      return buf;
    };
    return await loadPieces(stat.size, read, name, opts.skip);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function readHeaderLength(first: Uint8Array, fileSize: number, name: string): number {
  if (fileSize < 8 || first.length < 8) {
    throw new LeeError(`${name}: too short to be a safetensors file (${fileSize} bytes; the 8-byte header length is missing)`);
  }
  const view = new DataView(first.buffer, first.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const length = high * 2 ** 32 + low;
  if (high > 0 || length > MAX_HEADER_BYTES) {
    throw new LeeError(`${name}: header too large (${length} bytes; at most ${MAX_HEADER_BYTES} allowed) — not a safetensors file?`);
  }
  if (length > fileSize - 8) {
    throw new LeeError(`${name}: file truncated: the header needs ${length} bytes but only ${fileSize - 8} follow the length field`);
  }
  return length;
}

function parseHeader(bytes: Uint8Array, dataSize: number, name: string): Header {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new LeeError(`${name}: header is not valid JSON (${(err as Error).message}) — not a safetensors file?`);
  }
  if (!isPlainObject(json)) throw new LeeError(`${name}: header is not a JSON object`);

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (key === '__metadata__') {
      if (!isPlainObject(value)) throw new LeeError(`${name}: "__metadata__" must be an object of strings`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new LeeError(`${name}: "__metadata__" value for '${k}' must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(key, value, name));
  }

  // The data section must be covered exactly: sorted by offset, each tensor starts
  // where the previous one ended, the first at 0, the last at the end of the file.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < covered) {
      throw new LeeError(`${name}: tensor '${e.key}' data_offsets [${e.begin}, ${e.end}] overlap tensor '${previous!.key}' [${previous!.begin}, ${previous!.end}]`);
    }
    if (e.begin > covered) {
      throw new LeeError(`${name}: gap in the data section: bytes [${covered}, ${e.begin}) before tensor '${e.key}' belong to no tensor (offsets not contiguous)`);
    }
    covered = e.end;
    previous = e;
  }
  if (covered > dataSize) {
    throw new LeeError(`${name}: file truncated: its tensors need ${covered} bytes of data but only ${dataSize} are present`);
  }
  if (covered < dataSize) {
    throw new LeeError(`${name}: ${dataSize - covered} trailing bytes after the last tensor (data section is ${dataSize} bytes, tensors cover ${covered})`);
  }
  return { entries, metadata };
}

function parseEntry(key: string, value: unknown, name: string): Entry {
  const where = `${name}: tensor '${key}'`;
  if (!isPlainObject(value)) throw new LeeError(`${where} must be an object with dtype, shape and data_offsets`);
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!(field in value)) throw new LeeError(`${where} is missing "${field}"`);
  }
  const { dtype, shape, data_offsets: offsets } = value as { dtype: unknown; shape: unknown; data_offsets: unknown };
  if (typeof dtype !== 'string') throw new LeeError(`${where}: "dtype" must be a string`);
  const size = Object.hasOwn(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype]! : undefined;
  if (size === undefined) throw new LeeError(`${where} has unknown dtype '${dtype}'`);
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number')) {
    throw new LeeError(`${where}: "shape" must be an array of numbers`);
  }
  if (!shape.every((d: number) => Number.isSafeInteger(d) && d >= 0)) {
    throw new LeeError(`${where} has shape [${shape.join(', ')}] with a negative or non-integer dimension`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number')) {
    throw new LeeError(`${where}: "data_offsets" must be an array of two numbers`);
  }
  const [begin, end] = offsets as [number, number];
  if (![begin, end].every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new LeeError(`${where} data_offsets [${begin}, ${end}] out of range (offsets must be non-negative integers below 2^53)`);
  }
  if (end < begin) throw new LeeError(`${where} data_offsets [${begin}, ${end}] end before begin`);
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== numel * size) {
    throw new LeeError(`${where} byte size mismatch: shape [${shape.join(', ')}] of ${dtype} needs ${numel * size} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { key, dtype, shape: [...(shape as number[])], begin, end };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- decoding ------------------------------------------------------------------

/** An aligned little-endian copy of `bytes` (or `bytes` itself when owned and aligned). */
function alignedLE(bytes: Uint8Array, size: number, owned: boolean): ArrayBuffer {
  const reuse = owned && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  // new Uint8Array(view) copies; a Node Buffer's slice() would alias the whole pool
  const copy = reuse ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  if (!LITTLE_ENDIAN_HOST && size > 1) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  return copy.buffer;
}

function decodeTensor(bytes: Uint8Array, e: Entry, owned: boolean): HostTensor {
  const buffer = alignedLE(bytes, DTYPE_BYTES[e.dtype]!, owned);
  let data: Float32Array;
  switch (e.dtype) {
    case 'F32': data = new Float32Array(buffer); break;
    case 'F64': data = Float32Array.from(new Float64Array(buffer)); break;
    case 'F16': {
      const table = halfTable();
      const src = new Uint16Array(buffer);
      data = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) data[i] = table[src[i]!]!;
      break;
    }
    case 'BF16': {
      // bfloat16 is the upper half of an f32.
      const src = new Uint16Array(buffer);
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
      data = new Float32Array(bits.buffer);
      break;
    }
    case 'F8_E5M2': {
      // E5M2 is the upper byte of an IEEE half.
      const table = halfTable();
      const src = new Uint8Array(buffer);
      data = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) data[i] = table[src[i]! << 8]!;
      break;
    }
    case 'F8_E4M3': {
      const src = new Uint8Array(buffer);
      data = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) data[i] = e4m3ToFloat(src[i]!);
      break;
    }
    case 'I64': data = Float32Array.from(new BigInt64Array(buffer), Number); break;
    case 'U64': data = Float32Array.from(new BigUint64Array(buffer), Number); break;
    case 'BOOL': data = Float32Array.from(new Uint8Array(buffer), (b) => (b ? 1 : 0)); break;
    case 'I32': case 'U32': case 'I16': case 'U16': case 'I8': case 'U8':
      data = Float32Array.from(new INT_ARRAYS[e.dtype](buffer)); break;
    default: throw new Error(`unhandled dtype ${e.dtype}`); // parseEntry admits only known dtypes
  }
  return { shape: e.shape, data, dtype: e.dtype };
}

const INT_ARRAYS = {
  I32: Int32Array, U32: Uint32Array, I16: Int16Array, U16: Uint16Array, I8: Int8Array, U8: Uint8Array,
};

let halfToFloat: Float32Array | undefined;

/** All 65536 half values as f32: (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-24 * m. */
function halfTable(): Float32Array {
  if (halfToFloat) return halfToFloat;
  halfToFloat = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    halfToFloat[h] = exp === 0 ? sign * mant * 2 ** -24
      : exp === 31 ? (mant ? NaN : sign * Infinity)
      : sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return halfToFloat;
}

/** float8 E4M3 "fn" (as in PyTorch): bias 7, no infinities, S.1111.111 is NaN. */
function e4m3ToFloat(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 3) & 0xf;
  const mant = b & 7;
  if (exp === 15 && mant === 7) return NaN;
  return exp === 0 ? sign * mant * 2 ** -9 : sign * (1 + mant / 8) * 2 ** (exp - 7);
}

// ---- encoding ------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 -> half bits, rounding to nearest even; overflow gives inf, NaN stays NaN. */
export function floatToHalfBits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000; // subnormal half = m * 2^(e - 14) in units of 2^-24
    return sign | ((m >>> (14 - e)) + roundBit(m, 14 - e, m >>> (14 - e)));
  }
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  return sign | (((e << 10) | (mant >>> 13)) + roundBit(mant, 13, mant >>> 13));
}

/** 1 when the bits shifted out round the kept value `q` up (ties to even). */
function roundBit(m: number, shift: number, q: number): number {
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? 1 : 0;
}

/** f32 -> bfloat16 bits, rounding to nearest even; NaN stays NaN. */
export function floatToBf16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Encode float data; dtype per tensor defaults to F32. Data is laid out contiguously
 * in key order; the header is padded with spaces so the data starts 8-byte aligned. */
export function encodeSafetensors(tensors: Record<string, EncodableTensor>, metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new LeeError(`encodeSafetensors: metadata value for '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const [key, t] of Object.entries(tensors)) {
    if (key === '__metadata__') throw new LeeError(`encodeSafetensors: '__metadata__' is reserved and cannot name a tensor`);
    const dtype = t.dtype ?? 'F32';
    if (!['F32', 'F16', 'BF16', 'F64'].includes(dtype)) throw new LeeError(`encodeSafetensors: tensor '${key}' has unsupported dtype '${dtype}'`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new LeeError(`encodeSafetensors: tensor '${key}' has shape [${t.shape.join(', ')}] with a negative or non-integer dimension`);
    }
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) {
      throw new LeeError(`encodeSafetensors: tensor '${key}' has shape [${t.shape.join(', ')}] (${numel} elements) but ${t.data.length} values`);
    }
    const bytes = encodeData(t.data, dtype);
    header[key] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    pieces.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function encodeData(data: ArrayLike<number>, dtype: SafetensorsDType): Uint8Array {
  const n = data.length;
  const size = DTYPE_BYTES[dtype]!;
  const out = new Uint8Array(n * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = data[i]!;
    switch (dtype) {
      case 'F32': view.setFloat32(4 * i, x, true); break;
      case 'F64': view.setFloat64(8 * i, x, true); break;
      case 'F16': view.setUint16(2 * i, floatToHalfBits(x), true); break;
      case 'BF16': view.setUint16(2 * i, floatToBf16Bits(x), true); break;
    }
  }
  return out;
}

/** Write a safetensors file (Node only). */
export async function saveSafetensors(
  path: string,
  tensors: Record<string, EncodableTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata);
  const fs = await nodeFs();
  try {
    await fs.writeFile(path, bytes);
  } catch (err) {
    throw fileError('write', path, err);
  }
}

// ---- Node file access ------------------------------------------------------------

type NodeFs = typeof import('node:fs/promises');

/** Loaded on demand so that this module bundles for the browser. */
async function nodeFs(): Promise<NodeFs> {
  const specifier = 'node:fs/promises';
  try {
    return (await import(/* @vite-ignore */ specifier)) as NodeFs;
  } catch {
    throw new LeeError('reading or writing a safetensors file by path needs Node; in a browser pass a File or ArrayBuffer');
  }
}

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent path is not a directory',
};

function fileError(verb: 'read' | 'write', path: string, err: unknown): Error {
  if (err instanceof LeeError) return err;
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return err as Error;
  return new LeeError(`cannot ${verb} ${path}: ${FILE_ERRORS[code] ?? (err as Error).message}`);
}
