"""Generate the model-name tables from timm 0.9.16: models/timm-names.ts (every tag's eval
preprocessing, each architecture's default tag, timm's deprecated names) and
test/fixtures/names/core_models.json.gz (the paper's 83 `core_models` names, what each one
resolves to in timm 0.9, and that model's state_dict keys and shapes).

Run (Debian's torch 1.13; timm is source, not installed, not vendored):

    /usr/bin/python3 scripts/gen_name_fixtures.py --timm /path/to/timm-v0.9.16

About five minutes on 2 cores (it builds every one of the 83 models once, at its default
configuration, weights left uninitialised); the output is deterministic.

Names. A paper name (timm 0.6) resolves through timm 0.9's own deprecation tables
(`register_model_deprecations`: tv_resnet50 -> resnet50.tv_in1k, convnext_tiny_in22ft1k ->
convnext_tiny.fb_in22k_ft_in1k, mixer_b16_224_in21k -> mixer_b16_224.goog_in21k_ft_in1k,
resmlp_12_distilled_224 -> resmlp_12_224.fb_distilled_in1k, ...), else it is a timm 0.9
architecture at its default tag, with one exception (PAPER_TAGS): vit_base_patch16_224_miil
was the ImageNet-1k fine-tune in timm 0.6 (its 21k model was ..._miil_in21k, which timm 0.9
deprecates to vit_base_patch16_224_miil.in21k), whereas timm 0.9's default tag for the bare
name is in21k (11221 classes). The model is timm.create_model(<resolved name>) with
pretrained=False, which takes num_classes from that tag's pretrained config.
"""
import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent

# the paper's core_models (Gruver et al. 2023, timm 0.6-era names), in its order
CORE_MODELS = """
convit_base convit_small convmixer_1536_20 convmixer_768_32 convnext_base convnext_base_in22ft1k
convnext_large convnext_large_in22ft1k convnext_small convnext_small_in22ft1k convnext_tiny
convnext_tiny_in22ft1k convnext_xlarge_in22ft1k densenet121 densenet161 densenet169 densenet201
densenetblur121d efficientnet_b0 efficientnet_b1 efficientnet_b2 efficientnet_b3 efficientnet_b4
inception_resnet_v2 inception_v3 inception_v4 mixer_b16_224 mixer_b16_224_in21k mixer_b16_224_miil
mixer_l16_224 mixer_l16_224_in21k mobilenetv2_100 mobilenetv2_110d mobilenetv2_120d mobilenetv2_140
resmlp_12_224 resmlp_12_distilled_224 resmlp_24_224 resmlp_24_distilled_224 resmlp_36_224
resmlp_36_distilled_224 resmlp_big_24_224 resmlp_big_24_224_in22ft1k resmlp_big_24_distilled_224
resnet101 resnet101d resnet152 resnet152d resnet34 resnet50 resnet50d resnetblur50 resnetrs101
resnetrs152 tv_densenet121 tv_resnet101 tv_resnet152 tv_resnet34 tv_resnet50 vgg11 vgg11_bn vgg13
vgg13_bn vgg16 vgg16_bn vgg19 vgg19_bn vit_base_patch16_224 vit_base_patch16_224_miil
vit_base_patch16_384 vit_base_patch32_224 vit_base_patch32_384 vit_large_patch16_224
vit_large_patch16_384 vit_large_patch32_384 vit_small_patch16_224 vit_small_patch16_384
vit_small_patch32_224 vit_small_patch32_384 vit_tiny_patch16_224 vit_tiny_patch16_384
wide_resnet101_2 wide_resnet50_2
""".split()
assert len(CORE_MODELS) == 83 and len(set(CORE_MODELS)) == 83

# paper names whose meaning in timm 0.6 is not timm 0.9's default (see the docstring)
PAPER_TAGS = {'vit_base_patch16_224_miil': 'vit_base_patch16_224_miil.in21k_ft_in1k'}

# architectures lee-gpu also knows beyond the 83 (SPEC 4): their tags go in the table too
EXTRA_ARCHS = (
    ['resnet18', 'resnetblur18', 'vit_large_patch32_224', 'convit_tiny']
    + [f'deit_{s}{d}_patch16_224' for s in ('tiny', 'small', 'base') for d in ('', '_distilled')]
    + ['mixer_s16_224', 'mixer_s32_224', 'mixer_b32_224']
    + [f'convnext_{s}' for s in ('atto', 'femto', 'pico', 'nano')])

NORMS = {((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)): 'IMAGENET',
         ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)): 'INCEPTION',
         ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)): 'ZERO_ONE',
         ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)): 'CLIP'}


def resolve(name):
    from timm.models._registry import get_deprecated_models
    target = PAPER_TAGS.get(name) or get_deprecated_models().get(name) or name
    arch, _, tag = target.partition('.')
    return arch, tag or default_tag(arch)


def default_tag(arch):
    from timm.models._registry import _model_default_cfgs
    return _model_default_cfgs[arch].tags[0]


def pretrained(arch, tag):
    from timm.models import get_pretrained_cfg
    c = get_pretrained_cfg(f'{arch}.{tag}')
    close = lambda a, b: all(abs(x - y) < 1e-6 for x, y in zip(a, b))  # noqa: E731
    norm = next((v for (m, s), v in NORMS.items() if close(m, c.mean) and close(s, c.std)), None)
    assert norm, (arch, tag, c.mean, c.std)
    return dict(input_size=list(c.input_size), crop_pct=c.crop_pct, crop_mode=c.crop_mode,
                interpolation=c.interpolation, norm=norm, num_classes=c.num_classes)


def state_dict_shapes(timm_name):
    """Keys and shapes of create_model(name), weights allocated but not initialised."""
    import timm
    import torch.nn.init as init
    saved = {k: getattr(init, k) for k in dir(init) if k.endswith('_') and not k.startswith('_')}
    saved_tensor = {k: getattr(torch.Tensor, k) for k in ('normal_', 'uniform_', 'fill_', 'zero_', 'erfinv_')}
    try:
        for k in saved:
            setattr(init, k, lambda t, *a, **kw: t)
        for k in saved_tensor:
            setattr(torch.Tensor, k, lambda self, *a, **kw: self)
        import timm.layers.weight_init as wi
        wi_saved = {k: getattr(wi, k) for k in ('trunc_normal_', 'trunc_normal_tf_', 'lecun_normal_', 'variance_scaling_')}
        for k in wi_saved:
            setattr(wi, k, lambda t, *a, **kw: t)
        with torch.no_grad():
            model = timm.create_model(timm_name, pretrained=False)
    finally:
        for k, v in saved.items():
            setattr(init, k, v)
        for k, v in saved_tensor.items():
            setattr(torch.Tensor, k, v)
        for k, v in wi_saved.items():
            setattr(wi, k, v)
    out = [[k, list(v.shape)] for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')]
    del model
    return out


def ts_table(archs, deprecated):
    from timm.models._registry import _model_with_tags
    lines = ['// Generated by scripts/gen_name_fixtures.py from timm 0.9.16; do not edit.',
             '// Every tag of the architectures lee-gpu knows: [input size, crop_pct, crop_mode,',
             "// interpolation, mean/std, classes]; each architecture's default tag; timm 0.9's",
             '// deprecated names (timm 0.6 names) that resolve to one of them.', '',
             "export type TimmNorm = 'IMAGENET' | 'INCEPTION' | 'ZERO_ONE' | 'CLIP';",
             "export type TimmTag = [size: number, cropPct: number, cropMode: 'center' | 'squash' | 'border', "
             "interpolation: 'bicubic' | 'bilinear', norm: TimmNorm, classes: number];", '',
             'export const DEFAULT_TAGS: Record<string, string> = {']
    for a in archs:
        lines.append(f"  {a}: '{default_tag(a)}',")
    lines += ['};', '', 'export const TIMM_TAGS: Record<string, TimmTag> = {']
    for a in archs:
        for full in _model_with_tags[a]:
            _, tag = full.split('.', 1)
            p = pretrained(a, tag)
            assert p['input_size'][1] == p['input_size'][2] and p['input_size'][0] == 3, full
            interp = p['interpolation']
            assert interp in ('bicubic', 'bilinear'), (full, interp)
            lines.append(f"  '{full}': [{p['input_size'][1]}, {p['crop_pct']}, '{p['crop_mode']}', '{interp}', "
                         f"'{p['norm']}', {p['num_classes']}],")
    lines += ['};', '', 'export const DEPRECATED_NAMES: Record<string, string> = {']
    for old, new in deprecated:
        lines.append(f"  {old}: '{new}',")
    lines += ['};', '']
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--timm', required=True, help='path to a timm v0.9.16 source tree')
    args = ap.parse_args()
    sys.path.insert(0, args.timm)
    import timm
    assert timm.__version__ == '0.9.16', f'expected timm 0.9.16, got {timm.__version__}'
    from timm.models._registry import get_deprecated_models
    torch.set_num_threads(2)

    resolved = {n: resolve(n) for n in CORE_MODELS}
    archs = sorted({a for a, _ in resolved.values()} | set(EXTRA_ARCHS))
    # (timm's table also maps vit_base_patch*_224_sam to a tag `sam` that timm 0.9.16 names
    # sam_in1k: targets that are no tag are left out)
    from timm.models._registry import _model_pretrained_cfgs
    deprecated = sorted((old, new) for old, new in get_deprecated_models().items()
                        if new and new.split('.')[0] in archs and ('.' not in new or new in _model_pretrained_cfgs))
    # the paper's names that are not timm's deprecations
    deprecated = sorted(set(deprecated) | set(PAPER_TAGS.items()))
    (ROOT / 'models/timm-names.ts').write_text(ts_table(archs, deprecated))

    names, state_dicts = [], {}
    for n in CORE_MODELS:
        arch, tag = resolved[n]
        timm_name = f'{arch}.{tag}'
        p = pretrained(arch, tag)
        key = f"{arch}:{p['num_classes']}"
        if key not in state_dicts:
            start = time.time()
            state_dicts[key] = state_dict_shapes(timm_name)
            print(f'{timm_name:45s} {len(state_dicts[key]):5d} keys {time.time() - start:5.1f}s', flush=True)
        names.append(dict(name=n, timm=timm_name, arch=arch, tag=tag, state_dict=key, **p))
    out = ROOT / 'test/fixtures/names'
    out.mkdir(parents=True, exist_ok=True)
    doc = dict(generator='scripts/gen_name_fixtures.py', timm_version=timm.__version__,
               torch_version=torch.__version__,
               note='state_dict: keys and shapes of timm.create_model(timm), num_batches_tracked left out',
               names=names, state_dicts=state_dicts)
    raw = (json.dumps(doc, separators=(',', ':')) + '\n').encode()
    # gzip without a timestamp: the same bytes on every run (61 KB instead of 960 KB)
    (out / 'core_models.json.gz').write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))


if __name__ == '__main__':
    main()
