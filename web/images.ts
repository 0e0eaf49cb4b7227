import { LeeError } from '../engine/errors.js';
import { init } from '../engine/runtime.js';
import type { Rgb } from '../lee/sources.js';

// The browser's image decoder, made to give the pixels PIL's Image.open(...).convert('RGB')
// gives timm, as the CLI's sharp path does: no colour management (the ICC profile and
// PNG gamma ignored), the alpha channel dropped (not composited), and no EXIF rotation.
// The pixels come back through a WebGPU texture, not a 2D canvas, whose premultiplied
// storage would change every pixel that is not opaque.

const EXIF_ORIENTATION = 0x0112;

/** The EXIF orientation (1-8) of a TIFF block (the payload of JPEG's APP1 "Exif" or
 * PNG's eXIf chunk), or 1. */
function tiffOrientation(b: Uint8Array, start: number, end: number): number {
  if (end - start < 8) return 1;
  const little = b[start] === 0x49 && b[start + 1] === 0x49;
  if (!little && !(b[start] === 0x4d && b[start + 1] === 0x4d)) return 1;
  const u16 = (o: number) => (little ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!);
  const u32 = (o: number) => (little ? u16(o) + u16(o + 2) * 65536 : u16(o) * 65536 + u16(o + 2));
  const ifd = start + u32(start + 4);
  if (ifd + 2 > end) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > end) break;
    if (u16(e) === EXIF_ORIENTATION) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/** The EXIF orientation a JPEG or PNG declares (1 when it declares none). */
export function exifOrientation(b: Uint8Array): number {
  if (b[0] === 0xff && b[1] === 0xd8) {
    // JPEG: markers up to the first scan
    for (let o = 2; o + 4 <= b.length; ) {
      if (b[o] !== 0xff) return 1;
      const marker = b[o + 1]!;
      if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
        o += 2;
        continue;
      }
      if (marker === 0xda || marker === 0xd9) return 1;
      const len = (b[o + 2]! << 8) | b[o + 3]!;
      const body = o + 4;
      const exif = marker === 0xe1 && b[body] === 0x45 && b[body + 1] === 0x78 && b[body + 2] === 0x69 && b[body + 3] === 0x66 && b[body + 4] === 0 && b[body + 5] === 0;
      if (exif) return tiffOrientation(b, body + 6, Math.min(b.length, o + 2 + len));
      o += 2 + len;
    }
    return 1;
  }
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    // PNG: chunks up to IDAT
    for (let o = 8; o + 8 <= b.length; ) {
      const len = ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
      const type = String.fromCharCode(b[o + 4]!, b[o + 5]!, b[o + 6]!, b[o + 7]!);
      if (type === 'eXIf') return tiffOrientation(b, o + 8, Math.min(b.length, o + 8 + len));
      if (type === 'IDAT' || type === 'IEND') return 1;
      o += 12 + len;
    }
  }
  return 1;
}

/** The stored pixels of an image the decoder showed in its EXIF orientation `o`
 * (`shown` is [h, w, 3] as displayed): the inverse of each orientation's flip/rotation. */
export function unorient(shown: Uint8Array, w: number, h: number, o: number): Rgb {
  if (o === 1) return { data: shown, width: w, height: h };
  const swap = o >= 5;
  const sw = swap ? h : w;
  const sh = swap ? w : h;
  const out = new Uint8Array(sw * sh * 3);
  for (let sy = 0; sy < sh; sy++) {
    for (let sx = 0; sx < sw; sx++) {
      // where stored pixel (sx, sy) is shown
      let x: number, y: number;
      switch (o) {
        case 2: [x, y] = [sw - 1 - sx, sy]; break;
        case 3: [x, y] = [sw - 1 - sx, sh - 1 - sy]; break;
        case 4: [x, y] = [sx, sh - 1 - sy]; break;
        case 5: [x, y] = [sy, sx]; break;
        case 6: [x, y] = [sh - 1 - sy, sx]; break;
        case 7: [x, y] = [sh - 1 - sy, sw - 1 - sx]; break;
        default: [x, y] = [sy, sw - 1 - sx]; break; // 8
      }
      const from = (y * w + x) * 3;
      const to = (sy * sw + sx) * 3;
      out[to] = shown[from]!;
      out[to + 1] = shown[from + 1]!;
      out[to + 2] = shown[from + 2]!;
    }
  }
  return { data: out, width: sw, height: sh };
}

/** RGBA8 pixels of a bitmap as the file holds them, straight (not premultiplied), read
 * back through a WebGPU texture. */
async function rgbaOf(bitmap: ImageBitmap): Promise<Uint8Array> {
  const { device } = await init();
  const w = bitmap.width;
  const h = bitmap.height;
  const max = device.limits.maxTextureDimension2D;
  if (w > max || h > max) throw new LeeError(`the image is ${w} x ${h} pixels; this GPU reads images up to ${max} pixels a side`);
  const texture = device.createTexture({
    size: [w, h],
    format: 'rgba8unorm',
    usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC | GPUTextureUsage.RENDER_ATTACHMENT,
  });
  const row = Math.ceil((w * 4) / 256) * 256;
  const buffer = device.createBuffer({ size: row * h, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  try {
    device.queue.copyExternalImageToTexture({ source: bitmap }, { texture, premultipliedAlpha: false, colorSpace: 'srgb' }, [w, h]);
    const encoder = device.createCommandEncoder();
    encoder.copyTextureToBuffer({ texture }, { buffer, bytesPerRow: row }, [w, h]);
    device.queue.submit([encoder.finish()]);
    await buffer.mapAsync(GPUMapMode.READ);
    const mapped = new Uint8Array(buffer.getMappedRange());
    const out = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) out.set(mapped.subarray(y * row, y * row + w * 4), y * w * 4);
    return out;
  } finally {
    buffer.destroy();
    texture.destroy();
  }
}

/** Decode a PNG or JPEG the way the CLI does (see above): interleaved 8-bit RGB. */
export async function decodeRgb(blob: Blob, name: string): Promise<Rgb> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch (e) {
    throw new LeeError(`cannot decode image ${name}: this browser cannot read it as an image (${(e as Error).message || 'not a PNG or JPEG'})`);
  }
  try {
    const w = bitmap.width;
    const h = bitmap.height;
    if (!w || !h) throw new LeeError(`cannot decode image ${name}: it has no pixels`);
    const rgba = await rgbaOf(bitmap);
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
      rgb[j] = rgba[i]!;
      rgb[j + 1] = rgba[i + 1]!;
      rgb[j + 2] = rgba[i + 2]!;
    }
    // decoders show an image in its EXIF orientation; PIL (and so timm) does not
    return unorient(rgb, w, h, exifOrientation(bytes));
  } finally {
    bitmap.close();
  }
}
