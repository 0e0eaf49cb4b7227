import type { Preprocess } from '../models/spec.js';
import { resizeRgb } from './resize.js';

/** Where timm's eval transform takes an image of `width` x `height` to: resize to
 * `resize`, pad by `pad` (left, top, right, bottom) with `fill` (0-255 per channel),
 * then cut the `size` x `size` square at `crop` (left, top). Pure, so the Node path
 * (sharp) and the browser path (canvas / engine resampling) share it. */
export interface EvalGeometry {
  resize: [number, number];
  pad: [number, number, number, number];
  fill: [number, number, number];
  crop: [number, number];
  size: number;
}

/** Python's round(): halves to even, as torchvision's CenterCrop offsets use. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's center_crop: pad with `fill` where the image is smaller than the crop
 * ((d // 2) before, ((d + 1) // 2) after), then cut at round((size - crop) / 2). */
function centerCropOrPad(w: number, h: number, size: number): { pad: EvalGeometry['pad']; crop: EvalGeometry['crop'] } {
  const dw = Math.max(0, size - w);
  const dh = Math.max(0, size - h);
  const pad: EvalGeometry['pad'] = [Math.floor(dw / 2), Math.floor(dh / 2), Math.floor((dw + 1) / 2), Math.floor((dh + 1) / 2)];
  const pw = w + dw;
  const ph = h + dh;
  return { pad, crop: [pyRound((pw - size) / 2), pyRound((ph - size) / 2)] };
}

/** timm 0.9's `transforms_imagenet_eval` for a square input: scale = floor(size /
 * crop_pct); 'center' resizes the shorter side to scale (the longer to floor(scale *
 * long / short)) and centre-crops; 'squash' resizes both sides to scale and
 * centre-crops; 'border' resizes the longer side to scale (round) and pads with the
 * mean colour before the centre crop. */
export function evalGeometry(width: number, height: number, pre: Preprocess): EvalGeometry {
  const size = pre.inputSize[1];
  const scale = Math.floor(size / pre.cropPct);
  const mode = pre.cropMode ?? 'center';
  let resize: [number, number];
  let fill: EvalGeometry['fill'] = [0, 0, 0];
  if (mode === 'squash') {
    resize = [scale, scale];
  } else if (mode === 'border') {
    const ratio = Math.max(width / scale, height / scale);
    resize = [Math.round(width / ratio), Math.round(height / ratio)];
    fill = pre.mean.map((m) => Math.round(255 * m)) as EvalGeometry['fill'];
  } else {
    resize = width <= height ? [scale, Math.floor((scale * height) / width)] : [Math.floor((scale * width) / height), scale];
  }
  return { resize, fill, size, ...centerCropOrPad(resize[0], resize[1], size) };
}

/** timm's eval transform on decoded pixels (interleaved 8-bit RGB [height, width, 3],
 * as PIL's convert('RGB') holds them): resize with PIL's filters, pad, crop, then
 * ToTensor + Normalize. Returns [3, size, size]. */
export function preprocessRgb(rgb: Uint8Array, width: number, height: number, pre: Preprocess): Float32Array {
  const g = evalGeometry(width, height, pre);
  const [rw, rh] = g.resize;
  const resized = resizeRgb(rgb, width, height, rw, rh, pre.interpolation);
  const size = g.size;
  const [padL, padT] = g.pad;
  const [cropL, cropT] = g.crop;
  const out = new Float32Array(3 * size * size);
  for (let y = 0; y < size; y++) {
    // (y, x) of the crop in the padded image, then in the resized one
    const sy = y + cropT - padT;
    for (let x = 0; x < size; x++) {
      const sx = x + cropL - padL;
      const inside = sx >= 0 && sx < rw && sy >= 0 && sy < rh;
      for (let c = 0; c < 3; c++) {
        const v = inside ? resized[(sy * rw + sx) * 3 + c]! : g.fill[c]!;
        out[c * size * size + y * size + x] = (v / 255 - pre.mean[c]!) / pre.std[c]!;
      }
    }
  }
  return out;
}
