// Draws the four small images bundled as lee's embedded default input (assets/images/).
// Synthetic on purpose: no licence questions, and each has a clear orientation so
// rotations and translations change it. Run: node scripts/make_default_images.mjs
import sharp from 'sharp';

const S = 96;
const scenes = {
  'disc.png': (x, y) => {
    const d = Math.hypot(x - 0.38 * S, y - 0.45 * S);
    return d < 0.25 * S ? [230, 120, 40] : [40 + y, 90, 160 - y / 2];
  },
  'stripes.png': (x, y) => ((Math.floor((x + 0.6 * y) / 9) % 2) ? [250, 240, 220] : [30, 60, 90]),
  'checker.png': (x, y) => ((Math.floor(x / 16) + Math.floor(y / 16)) % 2 ? [200, 30, 60] : [20, 160, 90]),
  'arrow.png': (x, y) => {
    const inShaft = y > 0.42 * S && y < 0.58 * S && x > 0.15 * S && x < 0.6 * S;
    const inHead = x >= 0.6 * S && x < 0.85 * S && Math.abs(y - 0.5 * S) < (0.85 * S - x) * 0.9;
    return inShaft || inHead ? [250, 250, 250] : [60 + x, 40, 100 + y / 3];
  },
};

for (const [name, f] of Object.entries(scenes)) {
  const px = Buffer.alloc(S * S * 3);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) px.set(f(x, y).map((v) => Math.max(0, Math.min(255, Math.round(v)))), (y * S + x) * 3);
  }
  await sharp(px, { raw: { width: S, height: S, channels: 3 } }).png().toFile(`assets/images/${name}`);
}
