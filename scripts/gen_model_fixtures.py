"""Generate the model-parity fixtures in test/fixtures/models/ from timm 0.9.16.

Run (Debian's torch 1.13; timm is source, not installed, not vendored):

    /usr/bin/python3 scripts/gen_model_fixtures.py --timm /path/to/timm-v0.9.16 \
        [--out test/fixtures/models]

It rewrites every fixture (a few seconds on 2 cores); the output is deterministic on one
machine and thread count, not across them (BatchNorm calibration sums in float32), so
`--only NAME,...` regenerates just those and keeps the other files and manifest entries.
The fixtures from `vgg_bn_mini` on were written with `torch.set_num_threads(2)`.

For each small configuration in CONFIGS it writes
  <name>.safetensors     exactly model.state_dict(): float32 tensors, except
                         BatchNorm `num_batches_tracked`, kept as timm has it (I64,
                         shape []); __metadata__ = {arch, timm_class, kwargs, patch}.
  <name>.io.safetensors  input, tangent (N,3,H,W ~ N(0,1)); logits, probs and their
                         forward-mode JVPs along `tangent` (jvp_logits, jvp_probs).
                         References are computed in float64 (the float32 weights and
                         input cast up) with torch.autograd.forward_ad dual tensors,
                         then stored as F32 (forward_ad covers every op used on torch
                         1.13: no functional.jvp fallback). Checked against central
                         finite differences and against the float32 forward.
and, for all of them, manifest.json (fixtures, their checks, leaf modules in forward
order, timm eval preprocessing of every named architecture) and MODULES.md (state-dict
keys with shapes and leaf modules per fixture, for the TypeScript implementer).

Weights are random (fixed seeds) but not degenerate: fan-in scaled convs / linears,
non-zero biases, LayerNorm weights 1 +- 0.2, layer-scale gammas in [0.1, 1], BatchNorm
running statistics set from a calibration batch then jittered (mean shifted by ~0.5
std, variance times U(0.5, 2)), classifier heads scaled to a logit std of about 2.

timm 0.9.16's ResNet hardcodes stage widths [64, 128, 256, 512]; a full-width ResNet
does not fit the fixture budget, so the ResNet fixtures narrow the stages by wrapping
timm's own `make_blocks` (metadata `patch` = {"channels": [...]}). Everything else, block
code and forward included, is timm's. The stem stays 64 wide (ResNet-D/RS: `stem_width`).
VGG's ConvMlp head is hardcoded 4096 wide; its fixtures rebuild `pre_logits` and `head` with
timm's own classes at `num_features` (patch = {"num_features": N}). EfficientNet and
MobileNetV2 are built by timm's `_gen_efficientnet` / `_gen_mobilenet_v2` (entry `factory`)
with small width and depth multipliers, so timm's own scaling rules make them small.
Inception v3 / v4 / Inception-ResNet v2 hardcode every width and depth: their fixtures slice
each conv, batch norm and the classifier 16x narrower in place (patch width_divisor), keep
fewer blocks of timm's Sequentials (patch keep) and replace Inception v3's repeated blocks by
nn.Identity (patch identity). timm's ConViT GPSA caches its relative indices in float32, so
the scripts recompute them in the weights' dtype (float64 references).
"""
import argparse
import copy
import json
import math
import struct
import sys
from pathlib import Path

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn

BATCH = 2
NUM_CLASSES = 10
LOGIT_STD = 2.0
ST_DTYPES = {torch.float32: 'F32', torch.float64: 'F64', torch.float16: 'F16', torch.int64: 'I64'}

# name, lee arch, timm module, timm class, constructor kwargs, image size, resnet channels
CONFIGS = [
    dict(name='resnet18_mini', arch='resnet18', module='resnet', cls='ResNet', img=56,
         kwargs=dict(block='BasicBlock', layers=[1, 2, 1, 1]), channels=[64, 48, 56, 72]),
    dict(name='resnet50_mini', arch='resnet50', module='resnet', cls='ResNet', img=64,
         kwargs=dict(block='Bottleneck', layers=[1, 1, 2, 1]), channels=[24, 32, 40, 48]),
    dict(name='resnetblur18_mini', arch='resnetblur18', module='resnet', cls='ResNet', img=72,
         kwargs=dict(block='BasicBlock', layers=[1, 1, 1, 1], aa_layer='BlurPool2d'),
         channels=[64, 40, 48, 56]),
    dict(name='resnetblur50_mini', arch='resnetblur50', module='resnet', cls='ResNet', img=64,
         kwargs=dict(block='Bottleneck', layers=[1, 1, 1, 1], aa_layer='BlurPool2d'),
         channels=[24, 32, 40, 48]),
    dict(name='wide_resnet50_2_mini', arch='wide_resnet50_2', module='resnet', cls='ResNet', img=48,
         kwargs=dict(block='Bottleneck', layers=[1, 1, 1, 1], base_width=128), channels=[20, 24, 32, 40]),
    dict(name='vit_mini', arch='vit_tiny_patch16_224', module='vision_transformer',
         cls='VisionTransformer', img=32,
         kwargs=dict(img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=3, global_pool='token')),
    dict(name='deit_distilled_mini', arch='deit_tiny_distilled_patch16_224', module='deit',
         cls='VisionTransformerDistilled', img=48,
         kwargs=dict(img_size=48, patch_size=8, embed_dim=64, depth=2, num_heads=4)),
    dict(name='mixer_mini', arch='mixer_s16_224', module='mlp_mixer', cls='MlpMixer', img=32,
         kwargs=dict(img_size=32, patch_size=8, num_blocks=2, embed_dim=48)),
    dict(name='convnext_mini', arch='convnext_tiny', module='convnext', cls='ConvNeXt', img=64,
         kwargs=dict(dims=[16, 32, 48, 64], depths=[1, 1, 2, 1])),
    dict(name='convnext_convmlp_mini', arch='convnext_atto', module='convnext', cls='ConvNeXt', img=64,
         kwargs=dict(dims=[16, 32, 48, 64], depths=[1, 1, 2, 1], conv_mlp=True)),
    # Later families carry their own seed, so their fixtures do not move when others are added.
    # VGG: timm's own cfg lists, its ConvMlp head narrowed (patch num_features; timm hardcodes
    # 4096). vgg_bn_mini's 3x3 map takes ConvMlp's adaptive-pool-to-7x7 branch, vgg_mini's 8x8
    # map the direct 7x7 conv (a 2x2 output, pooled by the head).
    dict(name='vgg_bn_mini', arch='vgg11_bn', module='vgg', cls='VGG', img=48, seed=2001,
         kwargs=dict(cfg=[16, 'M', 24, 'M', 32, 32, 'M', 40, 'M'], norm_layer='BatchNorm2d'),
         patch=dict(num_features=48)),
    dict(name='vgg_mini', arch='vgg16', module='vgg', cls='VGG', img=64, seed=2002,
         kwargs=dict(cfg=[16, 16, 'M', 24, 'M', 32, 'M']), patch=dict(num_features=40)),
    # ResNet-D (deep stem, average-pool shortcut) and ResNet-RS (+ conv stem pool, SE 1/4)
    dict(name='resnet50d_mini', arch='resnet50d', module='resnet', cls='ResNet', img=64, seed=2003,
         kwargs=dict(block='Bottleneck', layers=[1, 1, 2, 1], stem_width=16, stem_type='deep', avg_down=True),
         channels=[16, 24, 32, 40]),
    dict(name='resnetrs_mini', arch='resnetrs101', module='resnet', cls='ResNet', img=64, seed=2004,
         kwargs=dict(block='Bottleneck', layers=[1, 2, 1, 1], stem_width=16, stem_type='deep',
                     replace_stem_pool=True, avg_down=True, block_args=dict(attn_layer='se:0.25')),
         channels=[16, 24, 32, 40]),
    # DenseNet-BC: tiny growth and blocks; densenetblur121d's deep stem and blurred stem pool
    dict(name='densenet_mini', arch='densenet121', module='densenet', cls='DenseNet', img=64, seed=2005,
         kwargs=dict(growth_rate=8, block_config=[2, 2, 2, 1], bn_size=2)),
    dict(name='densenetblur_mini', arch='densenetblur121d', module='densenet', cls='DenseNet', img=64, seed=2006,
         kwargs=dict(growth_rate=8, block_config=[1, 2, 1, 1], bn_size=2, stem_type='deep', aa_layer='BlurPool2d')),
    # EfficientNet / MobileNetV2 through timm's own generators (arch strings, width and depth
    # multipliers), scaled down by the multipliers
    dict(name='efficientnet_mini', arch='efficientnet_b0', module='efficientnet', cls='EfficientNet',
         factory='_gen_efficientnet', img=64, seed=2007, calib=32,
         kwargs=dict(variant='efficientnet_b0', channel_multiplier=0.25, depth_multiplier=0.5)),
    dict(name='mobilenetv2_mini', arch='mobilenetv2_110d', module='efficientnet', cls='EfficientNet',
         factory='_gen_mobilenet_v2', img=64, seed=2008, calib=32,
         kwargs=dict(variant='mobilenetv2_110d', channel_multiplier=0.25, depth_multiplier=0.5, fix_stem_head=True)),
    # Inception v3 / v4 / Inception-ResNet v2: timm hardcodes their widths and depths, so the
    # fixtures slice every conv 16x narrower (patch width_divisor) and v4 / IRv2 keep one block
    # of each kind (patch keep); 107 px leaves the 8x8 stage 2x2 (image-like). Inception v3's
    # repeated blocks (as wide out as in) become Identity (patch identity): at full depth its
    # float32 forward drifts 1.3e-5 of max |logit| from float64 (every seed and width tried),
    # enough to flip a ReLU whose input is within 1e-5 of 0 in the later blocks.
    dict(name='inception_v3_mini', arch='inception_v3', module='inception_v3', cls='InceptionV3', img=107,
         seed=3001, calib=32, kwargs=dict(),
         patch=dict(width_divisor=16, identity=['Mixed_5d', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e', 'Mixed_7c'])),
    dict(name='inception_v4_mini', arch='inception_v4', module='inception_v4', cls='InceptionV4', img=107,
         seed=3002, calib=32, kwargs=dict(), patch=dict(width_divisor=16, keep={'features': [0, 1, 2, 3, 4, 5, 6, 10, 11, 18, 19]})),
    dict(name='inception_resnet_v2_mini', arch='inception_resnet_v2', module='inception_resnet_v2',
         cls='InceptionResnetV2', img=107, seed=3003, calib=32, kwargs=dict(),
         patch=dict(width_divisor=16, keep={'repeat': 1, 'repeat_1': 1, 'repeat_2': 1})),
    # ResMLP: timm's MlpMixer with ResBlock / Affine; ConvMixer with GELU (1536_20) and ReLU
    # (768_32); ConViT with two GPSA blocks and one MHSA block (the class token joins there)
    dict(name='resmlp_mini', arch='resmlp_12_224', module='mlp_mixer', cls='MlpMixer', img=32, seed=3004,
         kwargs=dict(img_size=32, patch_size=8, num_blocks=2, embed_dim=48, mlp_ratio=4,
                     block_layer='ResBlock', norm_layer='Affine')),
    dict(name='convmixer_mini', arch='convmixer_1536_20', module='convmixer', cls='ConvMixer', img=32, seed=3005,
         kwargs=dict(dim=16, depth=2, kernel_size=9, patch_size=4)),
    dict(name='convmixer_relu_mini', arch='convmixer_768_32', module='convmixer', cls='ConvMixer', img=28,
         seed=3006, kwargs=dict(dim=16, depth=1, kernel_size=7, patch_size=7, act_layer='ReLU')),
    dict(name='convit_mini', arch='convit_small', module='convit', cls='ConVit', img=32, seed=3007,
         kwargs=dict(img_size=32, patch_size=8, embed_dim=12, num_heads=4, depth=3, local_up_to_layer=2)),
]
HEADS = {'resnet': ['fc'], 'vision_transformer': ['head'], 'deit': ['head', 'head_dist'],
         'mlp_mixer': ['head'], 'convnext': ['head.fc'], 'vgg': ['head.fc'], 'densenet': ['classifier'],
         'efficientnet': ['classifier'], 'inception_v3': ['fc'], 'inception_v4': ['last_linear'],
         'inception_resnet_v2': ['classif'], 'convmixer': ['head'], 'convit': ['head']}

# every architecture the spec names (section 4): their timm eval preprocessing goes in the manifest
NAMED_ARCHS = (
    ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnetblur18', 'resnetblur50',
     'wide_resnet50_2']
    + [f'vit_{s}_patch{p}_224' for s in ('tiny', 'small', 'base', 'large') for p in (16, 32)]
    + [f'deit_{s}{d}_patch16_224' for s in ('tiny', 'small', 'base') for d in ('', '_distilled')]
    + ['mixer_s16_224', 'mixer_s32_224', 'mixer_b16_224', 'mixer_b32_224', 'mixer_l16_224']
    + [f'convnext_{s}' for s in ('atto', 'femto', 'pico', 'nano', 'tiny', 'small', 'base')]
    + [f'vgg{d}{bn}' for d in (11, 13, 16, 19) for bn in ('', '_bn')]
    + ['resnet50d', 'resnet101d', 'resnet152d', 'resnetrs101', 'resnetrs152', 'tv_resnet34', 'tv_resnet50',
       'tv_resnet101', 'tv_resnet152', 'wide_resnet101_2']
    + ['densenet121', 'densenet161', 'densenet169', 'densenet201', 'tv_densenet121', 'densenetblur121d']
    + [f'efficientnet_b{i}' for i in range(5)]
    + ['mobilenetv2_100', 'mobilenetv2_110d', 'mobilenetv2_120d', 'mobilenetv2_140']
    + ['inception_v3', 'inception_v4', 'inception_resnet_v2']
    + ['resmlp_12_224', 'resmlp_24_224', 'resmlp_36_224', 'resmlp_big_24_224']
    + ['convmixer_1536_20', 'convmixer_768_32', 'convmixer_1024_20_ks9_p14', 'convit_tiny', 'convit_small', 'convit_base'])


# ---------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, metadata=None):
    """8-byte LE header length, JSON header padded with spaces to 8 bytes, raw LE data."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder('<'), copy=False).tobytes()
        header[name] = dict(dtype=ST_DTYPES[t.dtype], shape=list(t.shape),
                            data_offsets=[offset, offset + len(data)])
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(',', ':')).encode()
    head += b' ' * (-len(head) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for data in blobs:
            f.write(data)


def read_safetensors(path):
    """Minimal reader, used to check what was written round-trips."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    inv = {v: k for k, v in ST_DTYPES.items()}
    out = {}
    for name, h in header.items():
        b, e = h['data_offsets']
        buf = bytearray(raw[8 + n + b:8 + n + e])
        out[name] = torch.frombuffer(buf, dtype=inv[h['dtype']]).reshape(h['shape']) if buf else \
            torch.zeros(h['shape'], dtype=inv[h['dtype']])
    return out, meta


# ---------------------------------------------------------------- building

def build(cfg):
    kw = dict(cfg['kwargs'], num_classes=NUM_CLASSES)
    patch = {'channels': cfg['channels']} if cfg.get('channels') else cfg.get('patch', {})
    return build_timm(cfg['module'], cfg.get('factory', cfg['cls']), kw, patch)


def build_timm(module, factory, kwargs, patch):
    """timm.models.<module>.<factory>(**kwargs) (a class or one of timm's _gen_* builders),
    then the fixture's `patch`: narrowed ResNet stages, a narrowed VGG head."""
    import importlib
    mod = importlib.import_module(f'timm.models.{module}')
    if module == 'convit':
        gpsa_in_weight_dtype(mod.GPSA)
    kw = resolve_kwargs(kwargs)
    if patch.get('channels'):
        return build_narrow_resnet(mod, kw, patch['channels'])
    model = getattr(mod, factory)(**kw)
    if patch.get('num_features'):
        narrow_vgg_head(mod, model, patch['num_features'], kw['num_classes'])
    if patch.get('keep'):
        keep_blocks(model, patch['keep'])
    for name in patch.get('identity', []):
        setattr(model, name, nn.Identity())
    if patch.get('width_divisor'):
        narrow_widths(model, patch['width_divisor'])
    return model


def gpsa_in_weight_dtype(gpsa):
    """timm's GPSA caches rel_indices as a float32 plain attribute (not a buffer), which
    .double() leaves float32, and pos_proj then fails on float64 weights: recompute it in
    the weights' dtype (small integers: the same values in either)."""
    if getattr(gpsa, '_lee_dtype_patch', False):
        return
    get_rel, forward = gpsa.get_rel_indices, gpsa.forward

    def get_rel_indices(self, num_patches):
        return get_rel(self, num_patches).to(self.qk.weight.dtype)

    def forward_in_dtype(self, x):
        if self.rel_indices is not None and self.rel_indices.dtype != self.qk.weight.dtype:
            self.rel_indices = None
        return forward(self, x)
    gpsa.get_rel_indices, gpsa.forward, gpsa._lee_dtype_patch = get_rel_indices, forward_in_dtype, True


def keep_blocks(model, keep):
    """Fewer blocks in timm's hardcoded-depth Sequentials: {path: n} keeps the first n,
    {path: [i, ...]} those indices (Inception v4's `features`, Inception-ResNet v2's repeats)."""
    for path, k in keep.items():
        seq = model.get_submodule(path)
        parent, _, attr = path.rpartition('.')
        setattr(model.get_submodule(parent) if parent else model, attr,
                nn.Sequential(*(list(seq)[:k] if isinstance(k, int) else [seq[i] for i in k])))


def narrow_widths(model, f):
    """Every conv, batch norm and the classifier's input f times narrower (the RGB input
    stays 3 wide), by slicing timm's own modules in place: for the Inception family, whose
    widths timm hardcodes. Every width must divide by f, so concatenations still add up."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                cin = m.in_channels if m.in_channels == 3 else m.in_channels // f
                assert m.groups == 1 and m.out_channels % f == 0 and (cin == 3 or m.in_channels % f == 0), m
                m.in_channels, m.out_channels = cin, m.out_channels // f
                m.weight = nn.Parameter(m.weight[:m.out_channels, :cin].clone())
                if m.bias is not None:
                    m.bias = nn.Parameter(m.bias[:m.out_channels].clone())
            elif isinstance(m, nn.BatchNorm2d):
                assert m.num_features % f == 0, m
                m.num_features //= f
                for k in ('weight', 'bias'):
                    setattr(m, k, nn.Parameter(getattr(m, k)[:m.num_features].clone()))
                for k in ('running_mean', 'running_var'):
                    setattr(m, k, getattr(m, k)[:m.num_features].clone())
            elif isinstance(m, nn.Linear):
                assert m.in_features % f == 0, m
                m.in_features //= f
                m.weight = nn.Parameter(m.weight[:, :m.in_features].clone())


def resolve_kwargs(kwargs):
    """JSON kwargs to timm's: class names, and `attn_layer` 'se:<rd_ratio>' for ResNet-RS's
    partial(get_attn('se'), rd_ratio=...)."""
    from functools import partial
    from timm.layers import BlurPool2d, get_attn
    from timm.models.resnet import BasicBlock, Bottleneck
    from timm.models.mlp_mixer import Affine, ResBlock
    names = dict(BasicBlock=BasicBlock, Bottleneck=Bottleneck, BlurPool2d=BlurPool2d, BatchNorm2d=nn.BatchNorm2d,
                 ResBlock=ResBlock, Affine=Affine, ReLU=nn.ReLU)

    def attn(v):
        kind, ratio = v.split(':')
        return partial(get_attn(kind), rd_ratio=float(ratio))
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, str) and k in ('block', 'aa_layer', 'norm_layer', 'block_layer', 'act_layer'):
            v = names.get(v, v)
        elif k == 'block_args':
            v = {a: attn(b) if a == 'attn_layer' else b for a, b in v.items()}
        out[k] = v
    return out


def narrow_vgg_head(vgg_mod, model, num_features, num_classes):
    """timm's VGG with ConvMlp (pre_logits) `num_features` wide instead of the hardcoded 4096."""
    in_chs = model.pre_logits.fc1.in_channels
    model.pre_logits = vgg_mod.ConvMlp(in_chs, num_features, 7, mlp_ratio=1.0, drop_rate=0.,
                                       act_layer=nn.ReLU, conv_layer=nn.Conv2d)
    model.num_features = num_features
    model.reset_classifier(num_classes)


def build_narrow_resnet(resnet_mod, kw, channels):
    """timm's ResNet with stage widths `channels` instead of the hardcoded [64, 128, 256, 512]."""
    original = resnet_mod.make_blocks
    resnet_mod.make_blocks = lambda block_fn, _chs, *a, **k: original(block_fn, channels, *a, **k)
    try:
        model = resnet_mod.ResNet(**kw)
    finally:
        resnet_mod.make_blocks = original
    model.num_features = channels[-1] * kw['block'].expansion
    model.reset_classifier(kw['num_classes'])
    return model


# ---------------------------------------------------------------- randomising

def signed_uniform(shape, lo, hi):
    sign = torch.randint(0, 2, shape).float() * 2 - 1
    return sign * (lo + (hi - lo) * torch.rand(shape))


def uniform(shape, lo, hi):
    return lo + (hi - lo) * torch.rand(shape)


def random_param(module, pname, p):
    if pname == 'bias':
        return signed_uniform(p.shape, 0.05, 0.3)
    if pname in ('gamma', 'ls1', 'ls2'):  # ConvNeXt block / ViT / ResMLP LayerScale
        return uniform(p.shape, 0.1, 1.0)
    if pname == 'alpha':  # ResMLP's Affine
        return uniform(p.shape, 0.8, 1.2)
    if pname == 'beta':
        return signed_uniform(p.shape, 0.05, 0.3)
    if pname == 'gating_param':  # ConViT GPSA: sigmoid gates between 0.27 and 0.73
        return uniform(p.shape, -1.0, 1.0)
    if pname in ('cls_token', 'dist_token', 'reg_token'):
        return torch.randn(p.shape)
    if pname == 'pos_embed':
        return 0.5 * torch.randn(p.shape)
    if isinstance(module, nn.LayerNorm):  # includes timm's LayerNorm2d
        return uniform(p.shape, 0.8, 1.2)
    if isinstance(module, nn.BatchNorm2d):
        return uniform(p.shape, 0.5, 1.5)
    if isinstance(module, (nn.Conv2d, nn.Linear)) and pname == 'weight':
        fan_in = p[0].numel()
        return torch.randn(p.shape) / math.sqrt(fan_in)
    raise ValueError(f'no rule for parameter {pname} of {type(module).__name__}')


def bn_calibrator(module, inputs):
    """Running stats from this batch, then jittered so eval BN is visibly not batch BN."""
    x = inputs[0]
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    module.running_mean.copy_(mean + 0.5 * var.sqrt() * torch.randn(mean.shape))
    module.running_var.copy_(var * uniform(var.shape, 0.5, 2.0))


def randomise(model, family, calib_x):
    with torch.no_grad():
        for _, module in model.named_modules():
            for pname, p in module.named_parameters(recurse=False):
                p.copy_(random_param(module, pname, p))
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        hooks = [m.register_forward_pre_hook(bn_calibrator) for m in bns]
        model.eval()
        model(calib_x)
        for h in hooks:
            h.remove()
        for m in bns:
            m.num_batches_tracked.fill_(int(torch.randint(1, 10000, ())))
        scale = LOGIT_STD / model(calib_x).std().item()
        for head in HEADS[family]:
            for p in model.get_submodule(head).parameters():
                p.mul_(scale)


def no_inplace(model):
    for m in model.modules():
        if hasattr(m, 'inplace'):
            m.inplace = False


# ---------------------------------------------------------------- references

def jvp_forward(model, x, t):
    """logits, probs and their JVPs along t, with forward-mode dual tensors."""
    with fwAD.dual_level():
        out = model(fwAD.make_dual(x, t))
        probs = torch.softmax(out, dim=-1)
        logits, jvp_logits = fwAD.unpack_dual(out)
        probs, jvp_probs = fwAD.unpack_dual(probs)
    return dict(logits=logits, probs=probs, jvp_logits=jvp_logits, jvp_probs=jvp_probs)


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def leaf_trace(model, x):
    """Leaf modules in the order forward calls them, with output shapes and stds."""
    trace, hooks = [], []
    for name, m in model.named_modules():
        if next(m.children(), None) is None and name:
            def hook(mod, _inp, out, name=name):
                trace.append(dict(name=name, type=type(mod).__name__, out_shape=list(out.shape),
                                  out_std=round(out.double().std().item(), 4)))
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return trace


def reference(model, x, t):
    m64 = copy.deepcopy(model).double()
    with torch.no_grad():
        ref = jvp_forward(m64, x.double(), t.double())
        f32 = jvp_forward(model, x, t)
        h = 1e-7
        fd = (m64(x.double() + h * t.double()) - m64(x.double() - h * t.double())) / (2 * h)
    checks = dict(
        logits_std=round(ref['logits'].std().item(), 4),
        max_prob=round(ref['probs'].max().item(), 4),
        jvp_vs_central_fd_f64=rel_err(ref['jvp_logits'], fd),
        f32_vs_f64_logits=rel_err(f32['logits'], ref['logits']),
        f32_vs_f64_jvp_logits=rel_err(f32['jvp_logits'], ref['jvp_logits']))
    return {k: v.float() for k, v in ref.items()}, checks


# ---------------------------------------------------------------- writing

def preprocessing(arch):
    """timm's eval config of the default tag; a deprecated name (tv_resnet50) is its target's."""
    from timm.models import get_pretrained_cfg
    from timm.models._registry import get_deprecated_models
    c = get_pretrained_cfg(get_deprecated_models().get(arch) or arch)
    if c is None:
        return None
    return dict(tag=c.tag, input_size=list(c.input_size), crop_pct=c.crop_pct, crop_mode=c.crop_mode,
                interpolation=c.interpolation, mean=list(c.mean), std=list(c.std),
                num_classes=c.num_classes)


def make_fixture(cfg, index, out_dir):
    torch.manual_seed(cfg.get('seed', 1000 + index))
    model = build(cfg)
    no_inplace(model)
    family = cfg['module']
    img = cfg['img']
    # deep, narrow nets with 2x2 maps at the end (EfficientNet) need more images for BN
    # statistics that hold for the fixture's own input
    calib_x = torch.randn(cfg.get('calib', 4), 3, img, img)
    randomise(model, family, calib_x)
    model.eval()
    x, t = torch.randn(BATCH, 3, img, img), torch.randn(BATCH, 3, img, img)
    ref, checks = reference(model, x, t)
    trace = leaf_trace(copy.deepcopy(model).double(), x.double())
    stds = [e['out_std'] for e in trace if not e['name'].endswith('attn_drop')]  # attn_drop sees softmax rows
    checks['leaf_out_std_min'], checks['leaf_out_std_max'] = min(stds), max(stds)
    called = {e['name'] for e in trace}
    uncalled = [n for n, m in model.named_modules() if n and next(m.children(), None) is None and n not in called]

    name = cfg['name']
    patch = {'channels': cfg['channels']} if cfg.get('channels') else cfg.get('patch', {})
    meta = dict(arch=cfg['arch'], timm_class=f"timm.models.{family}.{cfg['cls']}",
                **({'factory': cfg['factory']} if cfg.get('factory') else {}),
                kwargs=json.dumps(dict(cfg['kwargs'], num_classes=NUM_CLASSES)), patch=json.dumps(patch))
    state = model.state_dict()
    write_safetensors(out_dir / f'{name}.safetensors', state, meta)
    io = dict(input=x, tangent=t, **ref)
    write_safetensors(out_dir / f'{name}.io.safetensors', io, dict(arch=cfg['arch'], weights=f'{name}.safetensors'))
    verify_roundtrip(out_dir / f'{name}.safetensors', state)
    verify_roundtrip(out_dir / f'{name}.io.safetensors', io)

    entry = dict(name=name, arch=cfg['arch'], timm_class=meta['timm_class'],
                 **({'factory': cfg['factory']} if cfg.get('factory') else {}),
                 kwargs=dict(cfg['kwargs'], num_classes=NUM_CLASSES), patch=patch,
                 image_size=[img, img], batch=BATCH, num_classes=NUM_CLASSES,
                 weights=f'{name}.safetensors', io=f'{name}.io.safetensors',
                 num_params=sum(p.numel() for p in model.parameters()),
                 preprocessing=preprocessing(cfg['arch']), checks=checks,
                 leaf_modules=[dict(name=e['name'], type=e['type'], out_shape=e['out_shape']) for e in trace],
                 uncalled_leaf_modules=uncalled)
    state_shapes = [(k, list(v.shape), ST_DTYPES[v.dtype]) for k, v in state.items()]
    return entry, state_shapes, trace


def fixture_structure(entry, out_dir):
    """A kept fixture's state-dict shapes and leaf trace for MODULES.md, from its files."""
    state, _ = read_safetensors(out_dir / entry['weights'])
    io, _ = read_safetensors(out_dir / entry['io'])
    family, cls = entry['timm_class'].split('.')[2], entry['timm_class'].split('.')[-1]
    model = build_timm(family, entry.get('factory', cls), entry['kwargs'], entry.get('patch', {}))
    model.load_state_dict(state, strict=True)
    model.eval()
    return [(k, list(v.shape), ST_DTYPES[v.dtype]) for k, v in state.items()], leaf_trace(model, io['input'])


def verify_roundtrip(path, tensors):
    back, _ = read_safetensors(path)
    assert list(back) == list(tensors), path
    for k, v in tensors.items():
        assert torch.equal(back[k], v.detach().cpu().to(back[k].dtype)), (path, k)


def check_quality(entry):
    c, problems = entry['checks'], []
    if c['jvp_vs_central_fd_f64'] > 1e-6:
        problems.append('JVP disagrees with finite differences')
    if c['f32_vs_f64_logits'] > 1e-5 or c['f32_vs_f64_jvp_logits'] > 1e-4:
        problems.append('float32 forward too far from float64')
    if not 0.5 < c['logits_std'] < 5 or c['max_prob'] > 0.999:
        problems.append('logits degenerate or softmax saturated')
    if c['leaf_out_std_min'] < 0.02 or c['leaf_out_std_max'] > 20:
        problems.append('activations vanish or explode')
    return problems


def modules_markdown(entries, shapes, traces):
    lines = ['# Model fixtures: parameters and leaf modules', '',
             'Generated by scripts/gen_model_fixtures.py; do not edit. Leaf modules are listed in the',
             'order the forward pass calls them, with output shapes for the fixture input (N=2).', '']
    for e, sh, tr in zip(entries, shapes, traces):
        lines += [f"## {e['name']} ({e['arch']}, {e['timm_class']})", '',
                  f"kwargs: `{json.dumps(e['kwargs'])}`" + (f", patch: `{json.dumps(e['patch'])}`" if e['patch'] else ''),
                  f"image {e['image_size'][0]}x{e['image_size'][1]}, {e['num_params']} parameters", '',
                  '### state_dict', '', '| key | shape | dtype |', '|---|---|---|']
        lines += [f'| {k} | {s} | {d} |' for k, s, d in sh]
        lines += ['', '### leaf modules (forward order)', '', '| module | type | output shape |', '|---|---|---|']
        lines += [f"| {t['name']} | {t['type']} | {t['out_shape']} |" for t in tr]
        if e['uncalled_leaf_modules']:
            lines += ['', f"Never called: {', '.join(e['uncalled_leaf_modules'])}"]
        lines.append('')
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--timm', required=True, help='path to a timm v0.9.16 source tree')
    ap.add_argument('--out', default=str(Path(__file__).resolve().parent.parent / 'test/fixtures/models'))
    ap.add_argument('--only', default='', help='comma-separated fixture names (default: all); the others keep '
                    'their files and manifest entries (float rounding, and so the weights, depend on the '
                    'machine and thread count)')
    args = ap.parse_args()
    sys.path.insert(0, args.timm)
    import timm
    assert timm.__version__ == '0.9.16', f'expected timm 0.9.16, got {timm.__version__}'
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    only = {n for n in args.only.split(',') if n}
    unknown = only - {c['name'] for c in CONFIGS}
    if unknown:
        sys.exit(f'unknown fixtures: {sorted(unknown)}')
    previous = json.loads((out_dir / 'manifest.json').read_text()) if only else {}
    kept = {e['name']: e for e in previous.get('fixtures', [])}
    entries, shapes, traces, failed = [], [], [], []
    for i, cfg in enumerate(CONFIGS):
        if only and cfg['name'] not in only:
            entry = kept[cfg['name']]
            sh, tr = fixture_structure(entry, out_dir)
            entries.append(entry)
            shapes.append(sh)
            traces.append(tr)
            continue
        entry, sh, tr = make_fixture(cfg, i, out_dir)
        problems = check_quality(entry)
        failed += [f"{cfg['name']}: {p}" for p in problems]
        print(f"{cfg['name']:24s} params={entry['num_params']:8d} "
              + ' '.join(f'{k}={v:.3g}' for k, v in entry['checks'].items()))
        entries.append(entry)
        shapes.append(sh)
        traces.append(tr)

    manifest = dict(generator='scripts/gen_model_fixtures.py', timm_version=timm.__version__,
                    torch_version=torch.__version__, batch=BATCH,
                    io_tensors=['input', 'tangent', 'logits', 'probs', 'jvp_logits', 'jvp_probs'],
                    fixtures=entries,
                    preprocessing={a: preprocessing(a) for a in NAMED_ARCHS})
    (out_dir / 'manifest.json').write_text(json.dumps(manifest, indent=1) + '\n')
    (out_dir / 'MODULES.md').write_text(modules_markdown(entries, shapes, traces))
    if failed:
        sys.exit('quality checks failed:\n  ' + '\n  '.join(failed))


if __name__ == '__main__':
    main()
