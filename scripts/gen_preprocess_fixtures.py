"""Generate test/fixtures/preprocess/: timm 0.9.16's own eval transform on real photos,
for every crop mode, so lee-gpu's image preprocessing (lee/preprocess.ts geometry + the
resize in cli/images.ts) is checked against timm's, not against itself.

    /usr/bin/python3 scripts/gen_preprocess_fixtures.py --timm /path/to/timm-v0.9.16

Reads assets/photos/chelsea.png (landscape 451x300) and rocket.jpg (portrait 427x640)
and writes preprocess.safetensors (one [3, S, S] float32 tensor per case and photo,
named <case>.<photo>) and manifest.json (each case's settings). Deterministic; a second
or two.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ap = argparse.ArgumentParser()
ap.add_argument('--timm', required=True)
ap.add_argument('--out', default=str(ROOT / 'test' / 'fixtures' / 'preprocess'))
args = ap.parse_args()
sys.path.insert(0, args.timm)

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from timm.data import create_transform  # noqa: E402

sys.path.insert(0, str(ROOT / 'scripts'))
from gen_model_fixtures import write_safetensors  # noqa: E402

PHOTOS = ['chelsea.png', 'rocket.jpg']
# (name, input size, crop_pct, crop_mode, interpolation, mean, std)
CASES = [
    ('center_bicubic', 112, 0.875, 'center', 'bicubic', (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ('center_bilinear', 96, 0.95, 'center', 'bilinear', (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ('squash_bilinear', 96, 0.9, 'squash', 'bilinear', (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ('border_bicubic', 96, 1.0, 'border', 'bicubic', (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    # crop_pct above 1: torchvision's CenterCrop pads the resized image with zeros
    ('center_pad', 64, 1.15, 'center', 'bilinear', (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
]

tensors, manifest = {}, {'timm': args.timm, 'photos': PHOTOS, 'cases': []}
for name, size, crop_pct, mode, interp, mean, std in CASES:
    tf = create_transform(input_size=(3, size, size), is_training=False, crop_pct=crop_pct,
                          crop_mode=mode, interpolation=interp, mean=mean, std=std)
    for photo in PHOTOS:
        img = Image.open(ROOT / 'assets' / 'photos' / photo).convert('RGB')
        x = tf(img)
        assert x.shape == (3, size, size), x.shape
        tensors[f'{name}.{photo}'] = x.to(torch.float32)
    manifest['cases'].append(dict(name=name, input_size=[3, size, size], crop_pct=crop_pct, crop_mode=mode,
                                  interpolation=interp, mean=list(mean), std=list(std), transform=repr(tf)))

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
write_safetensors(out / 'preprocess.safetensors', tensors)
(out / 'manifest.json').write_text(json.dumps(manifest, indent=2) + '\n')
print(f'wrote {len(tensors)} tensors to {out}')
