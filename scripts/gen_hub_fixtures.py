"""Generate the hub-checkpoint fixtures in test/fixtures/hub/ from timm 0.9.16.

Run (Debian's torch 1.13; timm is source, not installed, not vendored):

    /usr/bin/python3 scripts/gen_hub_fixtures.py --timm /path/to/timm-v0.9.16 \
        [--out test/fixtures/hub]

For each small model in CONFIGS (one per family) it writes a repository laid out as
timm publishes on the Hugging Face hub, under the repo id timm/<name>:
  timm/<name>/config.json        timm's own save_config_for_hf: architecture,
                                 num_classes, num_features, global_pool, label_names
                                 (some), model_args (what create_model needs beyond the
                                 architecture) and pretrained_cfg, whose preprocessing is
                                 deliberately not the architecture's default.
  timm/<name>/model.safetensors  model.state_dict() (as safetensors.torch.save_file
                                 writes it, __metadata__ {"format": "pt"}).
and next to the repositories
  <name>.io.safetensors          images: the repo's assets/images/*.png (sorted by name)
                                 through timm's eval transform as config.json sets it
                                 (resolve_data_config of its pretrained_cfg, then
                                 create_transform), [N,3,H,W] F32; logits and probs of the
                                 model on images, computed in float64, stored F64.
                                 __metadata__: repo, images (file names), transform.
Weights are random (fixed seeds): gen_model_fixtures.py's initialisation, calibrated on
these images (BatchNorm statistics, logit scale). The output is deterministic.

Every config is checked the way timm would use it: the model is rebuilt from config.json
alone (create_model(architecture, num_classes, **model_args)), loaded from
model.safetensors strictly, and must give the same logits. timm 0.9.16's ResNet
hardcodes stage widths; the ResNet fixture narrows them with gen_model_fixtures.py's
make_blocks patch (listed in README.md), which config.json cannot express: that rebuild
applies the same patch.
"""
import argparse
import contextlib
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_model_fixtures import no_inplace, randomise, read_safetensors, write_safetensors  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NUM_CLASSES = 10
TAG = 'lee_mini'

# arch, timm module (the family key of gen_model_fixtures.HEADS), model_args for
# create_model, ResNet stage widths, the pretrained_cfg preprocessing, label names?
# timm 0.9.16's mixer_* functions do not let kwargs override patch_size, num_blocks or
# embed_dim, so the Mixer is built by the function they call (_create_mixer, which sets the
# same pretrained_cfg) and its config.json has no model_args (as on the hub).
CONFIGS = [
    dict(arch='resnet18', module='resnet', model_args=dict(layers=[1, 2, 1, 1], stem_width=32),
         channels=[16, 24, 32, 40],
         cfg=dict(input_size=[3, 48, 48], crop_pct=0.8, crop_mode='center', interpolation='bilinear',
                  mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3]),
         labels=True),
    dict(arch='vit_tiny_patch16_224', module='vision_transformer',
         model_args=dict(img_size=48, patch_size=8, embed_dim=48, depth=2, num_heads=3),
         cfg=dict(input_size=[3, 48, 48], crop_pct=1.0, crop_mode='squash', interpolation='bicubic',
                  mean=[0.45, 0.5, 0.55], std=[0.3, 0.28, 0.26]),
         labels=False),
    dict(arch='mixer_s16_224', module='mlp_mixer', builder='_create_mixer', model_args_in_config=False,
         model_args=dict(img_size=32, patch_size=8, num_blocks=2, embed_dim=48),
         cfg=dict(input_size=[3, 32, 32], crop_pct=0.875, crop_mode='center', interpolation='bilinear',
                  mean=[0.4, 0.45, 0.5], std=[0.25, 0.25, 0.25]),
         labels=False),
    dict(arch='convnext_atto', module='convnext', model_args=dict(dims=[16, 24, 32, 40], depths=[1, 1, 2, 1]),
         cfg=dict(input_size=[3, 64, 64], crop_pct=0.95, crop_mode='border', interpolation='bicubic',
                  mean=[0.48, 0.46, 0.41], std=[0.27, 0.26, 0.28]),
         labels=True),
]
# pretrained_cfg fields of the architecture's default tag that would contradict the above
DROP_CFG = ('test_input_size', 'test_crop_pct', 'hf_hub_id', 'url', 'file', 'source', 'label_names')


@contextlib.contextmanager
def narrowed_resnet(channels):
    """timm's ResNet with stage widths `channels` instead of the hardcoded [64, 128, 256, 512]."""
    import timm.models.resnet as resnet_mod
    original = resnet_mod.make_blocks
    if channels:
        resnet_mod.make_blocks = lambda block_fn, _chs, *a, **k: original(block_fn, channels, *a, **k)
    try:
        yield
    finally:
        resnet_mod.make_blocks = original


def create(c):
    import importlib
    import timm
    channels = c.get('channels')
    with narrowed_resnet(channels):
        if c.get('builder'):
            builder = getattr(importlib.import_module(f"timm.models.{c['module']}"), c['builder'])
            model = builder(c['arch'], pretrained=False, num_classes=NUM_CLASSES, **c['model_args'])
        else:
            model = timm.create_model(c['arch'], pretrained=False, num_classes=NUM_CLASSES, **c['model_args'])
    if channels:
        model.num_features = channels[-1] * type(model.layer4[0]).expansion
        model.reset_classifier(NUM_CLASSES)
    no_inplace(model)
    return model.eval()


def timm_images(pretrained_cfg):
    """assets/images/*.png through timm's eval transform for this pretrained_cfg."""
    from PIL import Image
    from timm.data import create_transform, resolve_data_config
    data_cfg = resolve_data_config(pretrained_cfg=dict(pretrained_cfg))
    transform = create_transform(**data_cfg, is_training=False)
    paths = sorted((REPO / 'assets/images').glob('*.png'))
    images = torch.stack([transform(Image.open(p).convert('RGB')) for p in paths])
    return images, [p.name for p in paths], data_cfg, transform


def make_fixture(c, index, out):
    from timm.models._hub import save_config_for_hf
    name = f"{c['arch']}.{TAG}"
    repo_dir = out / 'timm' / name
    repo_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(2000 + index)
    model = create(c)
    cfg = {k: v for k, v in model.pretrained_cfg.items() if k not in DROP_CFG}
    cfg.update(c['cfg'], architecture=c['arch'], tag=TAG, num_classes=NUM_CLASSES)
    model.pretrained_cfg = cfg
    model_config = {'label_names': [f'n{index:02d}{k:06d}' for k in range(NUM_CLASSES)]} if c['labels'] else None
    model_args = c['model_args'] if c.get('model_args_in_config', True) else None
    save_config_for_hf(model, repo_dir / 'config.json', model_config=model_config, model_args=model_args)
    config = json.loads((repo_dir / 'config.json').read_text())

    # preprocessing exactly as timm derives it from the config.json just written
    images, names, data_cfg, transform = timm_images(config['pretrained_cfg'])
    randomise(model, c['module'], images)
    model.eval()
    state = model.state_dict()
    write_safetensors(repo_dir / 'model.safetensors', state, {'format': 'pt'})
    with torch.no_grad():
        logits = model.double()(images.double())
        model.float()
    probs = torch.softmax(logits, dim=-1)

    # timm's own view of the repository: config.json (with the ResNet patch, the Mixer's
    # builder arguments) rebuilds the model
    back, _ = read_safetensors(repo_dir / 'model.safetensors')
    assert config['architecture'] == c['arch'] and config['num_classes'] == NUM_CLASSES
    rebuilt = create(dict(c, model_args=config.get('model_args', c['model_args'])))
    rebuilt.load_state_dict(back, strict=True)
    with torch.no_grad():
        again = rebuilt.double()(images.double())
    assert torch.equal(again, logits), f'{name}: config.json + model.safetensors do not rebuild the model'
    assert not ('input_size' in data_cfg and list(data_cfg['input_size']) != c['cfg']['input_size'])

    write_safetensors(out / f'{name}.io.safetensors',
                      dict(images=images.float(), logits=logits, probs=probs),
                      dict(repo=f'timm/{name}', images=json.dumps(names), transform=repr(transform).replace('\n', ' ')))
    size = sum(p.stat().st_size for p in repo_dir.iterdir())
    std, pmax = logits.std().item(), probs.max().item()
    print(f'timm/{name:32s} {size / 1e3:6.0f} KB  logits std {std:.2f}  max prob {pmax:.3f}  {data_cfg}')
    assert size < 400_000, f'{name}: {size} bytes is over the fixture budget'
    assert 0.5 < std < 5 and pmax < 0.999, f'{name}: logits degenerate or softmax saturated'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--timm', required=True, help='path to a timm v0.9.16 source tree')
    ap.add_argument('--out', default=str(REPO / 'test/fixtures/hub'))
    args = ap.parse_args()
    sys.path.insert(0, args.timm)
    import timm
    assert timm.__version__ == '0.9.16', f'expected timm 0.9.16, got {timm.__version__}'
    out = Path(args.out)
    for i, c in enumerate(CONFIGS):
        make_fixture(c, i, out)


if __name__ == '__main__':
    main()
