"""Generate the layerwise Lie-derivative attribution fixtures in test/fixtures/layerwise/
(SPEC 5.3, 5.4).

Run (Debian's torch 1.13; timm is source, not installed, not vendored), after
scripts/gen_model_fixtures.py has written test/fixtures/models/:

    /usr/bin/python3 scripts/gen_layerwise_fixtures.py --timm /path/to/timm-v0.9.16 \
        [--models test/fixtures/models] [--out test/fixtures/layerwise] [--only NAME,...]

For every fixture model (timm's model, fixture weights, float64, eval, no in-place ops),
every generator in GENERATORS (bilinear sampling) and the fixture's `input` images x:

1. Capture pass. Every *layer* records its input h_{i-1} and output f_i(h_{i-1}) (cloned:
   timm adds residuals in place). Layers, in forward-call order, are
   - timm's leaf modules (named_modules without children), except that timm's
     `Attention` is ONE layer (`blocks.N.attn`) and its children are not layers. A leaf
     called twice (Mixer's `blocks.N.drop_path`) gives two layers, the second named
     `<name>#1`;
   - the functional ops that are not exactly equivariant, injected by minimal monkeypatches
     of the parent's forward: `pos_embed` (ViT/DeiT: `x + pos_embed` after the token
     concatenation; ConViT: before it) and `global_pool` (Mixer, ResMLP: mean over tokens),
     Inception v3's functional branch pools `<block>.avg_pool2d` / `<block>.max_pool2d`;
   - timm's BatchNormAct2d's own batch norm (it has children `drop` and `act`, so it is no
     leaf): a functional layer under the module's name, type BatchNormAct2d;
   - ConViT's GPSA and MHSA are one layer each, as timm's `Attention`;
   - the spatial mean (squeeze) of every SqueezeExcite / SEModule, `<se>.pool`, type
     spatial_mean, and VGG ConvMlp's adaptive average pool up to its 7x7 kernel (maps
     smaller than 7x7 only), `pre_logits.pool`, type adaptive_avg_pool2d.
   Functional ops left out because they are exactly equivariant under the G's below:
   residual adds (G is linear and both summands share a layout), ConvNeXt's per-channel
   `gamma` multiply, the squeeze-excitation gate `x * gate` (the gate [B, C, 1, 1] has
   G = 0), DenseNet's channel concatenations, permutes / transposes / flatten between layouts (same grid, same
   normalised coordinates), the concatenation of constant cls / dist tokens (prefix tokens
   have G = 0), ViT's `x[:, 0]` token pool (reads a prefix token only), DeiT's head average
   (non-image in and out).
2. Per layer, its Lie derivative L f_i = J_{f_i}(h)(G_in h) - G_out f_i(h) with
   torch.autograd.forward_ad (one JVP of the layer alone).
3. Per layer, c_i = J_{>i} L f_i: the model is run again under forward AD with a forward
   hook (or the patched op) returning a dual (output, L f_i) at that layer only; the input
   and all parameters have zero tangent. c_i is the tangent of softmax(logits) [B, classes].
4. Additivity: sum_i c_i against the end-to-end L p = J_p(x)(G x) (gen_lie_fixtures'
   sampler, forward AD through the bilinear resampling). Telescoping makes them equal up
   to rounding, provided every tensor gets the same G as output of its producer and as
   input of its consumer and every non-equivariant op is a layer.

G on a tensor (SPEC 5.4), chosen by *layout*, which is decided from the module's place in
the architecture, never from the shape alone (shapes are ambiguous, e.g. ConvNeXt stage 0's
channels-last [B, 16, 16, 16]):
- `nchw`  (B, C, H, W), H*W > 1: SPEC 5.1's closed-form bilinear G (one-sided differences,
  paper reflection) at the map's own resolution, velocities from the same normalised
  coordinates (gen_lie_fixtures.closed_form_tangent).
- `nhwc`  (B, H, W, C): ConvNeXt blocks with conv_mlp=False, for `norm` and `mlp.*`
  inputs/outputs; G on the middle axes.
- `tokens` (B, N, C), N = k^2 + e: the first e tokens (cls / dist) get G = 0, the rest,
  row-major, are a k x k grid. e = N - num_patches, which must be 0 (patch_embed.norm,
  before the concatenation; the Mixer) or model.num_prefix_tokens (after it).
- `tokens_last` (B, C, N): the Mixer's token MLP (`mlp_tokens.fc1` input, `mlp_tokens.fc2`
  output, `mlp_tokens.drop2`); the same k x k grid on the last axis. The token-MLP hidden
  activations [B, C, hidden] (fc1 output .. fc2 input) are NOT image-like (the hidden axis
  is not spatial, even where hidden happens to be a square: mixer_s16 has N = 196, hidden 256).
- `none`: everything else (pooled [B, C], [B, C, 1, 1], logits): G = 0.
For `saturate`, G is x -> x on every image-like tensor (prefix tokens still G = 0), and
SPEC 5.1's x -> x on the input; G = 0 on `none` tensors.

Outputs: <name>.layerwise.safetensors with `contrib.<generator>.<layer>` and
`e2e.<generator>` [B, classes] (F32 from float64), and manifest.json (layers in order with
module type and layouts, additivity residuals max_b ||sum c - e2e|| / ||e2e||).
"""
import json
import math
import re
import sys
import time
from pathlib import Path

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_model_fixtures import read_safetensors, write_safetensors  # noqa: E402
from gen_lie_fixtures import GENERATORS as ALL_GENERATORS  # noqa: E402
from gen_lie_fixtures import closed_form_tangent, fixture_run, lie_derivative, load_model, write_index  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GENERATORS = ('translate_x', 'rotate', 'saturate')
INTERP = 'bilinear'
DT = torch.float64
RESIDUAL_TOL = 1e-8  # float64; SPEC 5.3 asks < 1e-4 of the float32 engine


# ---------------------------------------------------------------- G on feature maps

def g_nchw(t, gen):
    if ALL_GENERATORS[gen] is None:
        return t
    if t.shape[-1] * t.shape[-2] <= 1:
        return torch.zeros_like(t)
    return closed_form_tangent(t, gen, INTERP)


def apply_g(t, layout, gen):
    """G (the generator's action) on a tensor of the given layout; linear in t."""
    kind = layout[0]
    if kind == 'none':
        return torch.zeros_like(t)
    if kind == 'nchw':
        assert t.dim() == 4
        return g_nchw(t, gen)
    if kind == 'nhwc':
        assert t.dim() == 4
        return g_nchw(t.permute(0, 3, 1, 2), gen).permute(0, 2, 3, 1).contiguous()
    e = layout[1]
    if kind == 'tokens':        # (B, N, C)
        b, n, c = t.shape
        k = math.isqrt(n - e)
        assert k * k == n - e, (layout, t.shape)
        grid = t[:, e:].reshape(b, k, k, c).permute(0, 3, 1, 2)
        out = g_nchw(grid, gen).permute(0, 2, 3, 1).reshape(b, k * k, c)
        return torch.cat([torch.zeros_like(t[:, :e]), out], 1)
    if kind == 'tokens_last':   # (B, C, N)
        b, c, n = t.shape
        k = math.isqrt(n - e)
        assert k * k == n - e, (layout, t.shape)
        out = g_nchw(t[..., e:].reshape(b, c, k, k), gen).reshape(b, c, k * k)
        return torch.cat([torch.zeros_like(t[..., :e]), out], -1)
    raise ValueError(layout)


def default_layout(t, prefix):
    if t.dim() == 4:
        return ('nchw',) if t.shape[-1] * t.shape[-2] > 1 else ('none',)
    if t.dim() == 3:
        # tokens: before the cls/dist concatenation (patch_embed.norm) there is no prefix
        e = t.shape[1] - prefix[1]
        assert e in (0, prefix[0]), f'{t.shape[1]} tokens: neither the patch grid nor grid + prefix'
        return ('tokens', e)
    return ('none',)


def layouts_for(family, model, name, h, out, prefix):
    """(input layout, output layout) of a layer, from its place in the architecture."""
    base = name.split('#')[0]
    if family == 'convnext':
        m = re.match(r'(stages\.\d+\.blocks\.\d+)\.(norm|mlp\.\w+)$', base)
        if m and not model.get_submodule(m.group(1)).use_conv_mlp:
            return ('nhwc',), ('nhwc',)
    if family == 'mlp_mixer' and re.match(r'blocks\.\d+\.linear_tokens$', base):
        return ('tokens_last', 0), ('tokens_last', 0)   # ResMLP's token map: tokens in and out
    if family == 'mlp_mixer':
        m = re.match(r'blocks\.\d+\.mlp_tokens\.(\w+)$', base)
        if m:
            sub = m.group(1)
            tl = ('tokens_last', 0)
            return {'fc1': (tl, ('none',)), 'fc2': (('none',), tl), 'drop2': (tl, tl)}.get(sub, (('none',), ('none',)))
    return default_layout(h, prefix), default_layout(out, prefix)


# ---------------------------------------------------------------- layer probing

class Probe:
    """Capture (mode 'capture') or inject a tangent at one layer (mode 'inject')."""

    def __init__(self):
        self.mode, self.records, self.calls, self.target, self.tangent = 'off', [], {}, None, None

    def reset(self, mode, target=None, tangent=None):
        self.mode, self.calls, self.target, self.tangent = mode, {}, target, tangent
        if mode == 'capture':
            self.records = []

    def key(self, name):
        k = self.calls.get(name, 0)
        self.calls[name] = k + 1
        return name if k == 0 else f'{name}#{k}'

    def __call__(self, name, typ, fn, h, out):
        key = self.key(name)
        if self.mode == 'capture':
            self.records.append(dict(name=key, type=typ, fn=fn, h=h.detach().clone(), out=out.detach().clone()))
        elif self.mode == 'inject' and key == self.target:
            assert fwAD.unpack_dual(out).tangent is None, f'{key}: upstream tangent not zero'
            return fwAD.make_dual(out, self.tangent)
        return out


ATOMIC = ('Attention', 'GPSA', 'MHSA')  # attention modules that are one layer (ConViT's two kinds)


def se_forward(m, name, probe):
    """timm's SqueezeExcite (EfficientNet blocks) / SEModule (ResNet-RS) forward, its spatial
    mean (the squeeze) a layer of its own, `<name>.pool`."""
    def pool(h):
        return h.mean((2, 3), keepdim=True)

    def forward(x):
        s = probe(f'{name}.pool', 'spatial_mean', pool, x, pool(x))
        if hasattr(m, 'conv_reduce'):
            s = m.conv_expand(m.act1(m.conv_reduce(s)))
        else:
            assert not m.add_maxpool
            s = m.fc2(m.act(m.bn(m.fc1(s))))
        return x * m.gate(s)   # equivariant: the gate [B, C, 1, 1] is not image-like (G = 0)
    return forward


def conv_mlp_forward(m, name, probe):
    """timm's VGG ConvMlp forward, its adaptive pool up to the 7x7 kernel (maps smaller than
    7x7 only) a layer of its own, `<name>.pool`."""
    k = m.input_kernel_size

    def forward(x):
        if x.shape[-2] < k or x.shape[-1] < k:
            size = (max(k, x.shape[-2]), max(k, x.shape[-1]))

            def pool(h):
                return F.adaptive_avg_pool2d(h, size)
            x = probe(f'{name}.pool', 'adaptive_avg_pool2d', pool, x, pool(x))
        return m.act2(m.fc2(m.drop(m.act1(m.fc1(x)))))
    return forward


def instrument(model, family, probe):
    """Forward hooks on the layers; monkeypatches for the functional layers."""
    attn = [n for n, m in model.named_modules() if type(m).__name__ in ATOMIC]
    for name, m in model.named_modules():
        if not name or any(name.startswith(a + '.') for a in attn):
            continue
        if next(m.children(), None) is None or name in attn:
            def hook(mod, inp, out, name=name):
                assert len(inp) == 1
                return probe(name, type(mod).__name__, mod, inp[0], out)
            m.register_forward_hook(hook)

    # timm's BatchNormAct2d (ConvNormAct's `bn`, EfficientNet, DenseNet) subclasses
    # BatchNorm2d and has children (drop, act): its batch norm is the module's own
    # computation, so it is a functional layer under the module's name, before the leaves
    for name, m in model.named_modules():
        if type(m).__name__ == 'BatchNormAct2d':
            assert not m.training and m.track_running_stats

            def bn_act(x, m=m, name=name):
                def bn(h):
                    return F.batch_norm(h, m.running_mean, m.running_var, m.weight, m.bias, False, 0., m.eps)
                return m.act(m.drop(probe(name, 'BatchNormAct2d', bn, x, bn(x))))
            m.forward = bn_act
        if type(m).__name__ in ('SqueezeExcite', 'SEModule'):
            m.forward = se_forward(m, name, probe)
        if family == 'vgg' and type(m).__name__ == 'ConvMlp':
            m.forward = conv_mlp_forward(m, name, probe)

    if family in ('vision_transformer', 'deit'):
        assert not model.dynamic_img_size and not model.no_embed_class
        assert getattr(model, 'reg_token', None) is None

        def _pos_embed(x):
            to_cat = [model.cls_token.expand(x.shape[0], -1, -1)]
            if family == 'deit':
                to_cat.append(model.dist_token.expand(x.shape[0], -1, -1))
            x = torch.cat(to_cat + [x], dim=1)   # equivariant: prefix tokens have G = 0

            def add_pos(h):
                return h + model.pos_embed
            x = probe('pos_embed', 'pos_embed_add', add_pos, x, add_pos(x))
            return model.pos_drop(x)
        model._pos_embed = _pos_embed

    if family == 'inception_v3':
        inception_v3_pools(model, probe)

    if family == 'convit':
        assert model.use_pos_embed and model.global_pool == 'token'

        def forward_features(x):   # timm's, with the pos_embed add seen by the probe
            x = model.patch_embed(x)

            def add_pos(h):
                return h + model.pos_embed
            x = model.pos_drop(probe('pos_embed', 'pos_embed_add', add_pos, x, add_pos(x)))
            cls_tokens = model.cls_token.expand(x.shape[0], -1, -1)
            for u, blk in enumerate(model.blocks):
                if u == model.local_up_to_layer:
                    x = torch.cat((cls_tokens, x), dim=1)   # equivariant: the class token has G = 0
                x = blk(x)
            return model.norm(x)
        model.forward_features = forward_features

    if family == 'mlp_mixer':
        assert model.global_pool == 'avg'

        def forward_head(x, pre_logits=False):
            def mean_pool(h):
                return h.mean(dim=1)
            x = probe('global_pool', 'token_mean', mean_pool, x, mean_pool(x))
            x = model.head_drop(x)
            return x if pre_logits else model.head(x)
        model.forward_head = forward_head


def inception_v3_pools(model, probe):
    """Inception v3's blocks call F.avg_pool2d / F.max_pool2d for their pool branches:
    layers `<block>.avg_pool2d` / `<block>.max_pool2d`, seen through the module's `F`
    (a copy of torch.nn.functional whose two pools go through the probe) and named after
    the block that a forward pre-hook says is running."""
    import types
    mod = sys.modules[type(model).__module__]
    running = []
    for name, m in model.named_modules():
        if re.fullmatch(r'Inception[A-E]', type(m).__name__):
            m.register_forward_pre_hook(lambda _m, _inp, name=name: running.append(name))

    def pool(kind):
        def probed(x, *args, **kwargs):
            def fn(h):
                return getattr(F, kind)(h, *args, **kwargs)
            return probe(f'{running[-1]}.{kind}', kind, fn, x, fn(x))
        return probed
    shim = types.SimpleNamespace(**{k: getattr(F, k) for k in dir(F) if not k.startswith('__')})
    shim.avg_pool2d, shim.max_pool2d = pool('avg_pool2d'), pool('max_pool2d')
    mod.F = shim


def layer_lie(rec, lay_in, lay_out, gen):
    """L f = J_f(h)(G_in h) - G_out f(h) for one captured layer."""
    h, out = rec['h'], rec['out']
    with fwAD.dual_level():
        o = rec['fn'](fwAD.make_dual(h, apply_g(h, lay_in, gen)))
        primal, tan = fwAD.unpack_dual(o)
    assert torch.allclose(primal, out, rtol=0, atol=1e-12), f"{rec['name']}: recomputed output differs"
    if tan is None:
        tan = torch.zeros_like(out)
    return tan - apply_g(out, lay_out, gen)


def push_forward(model, probe, x, key, lf):
    with fwAD.dual_level():
        probe.reset('inject', key, lf)
        probs = torch.softmax(model(x), dim=-1)
        probe.reset('off')
        tan = fwAD.unpack_dual(probs).tangent
    assert tan is not None, f'{key}: injected tangent did not reach the output'
    return tan


def rel(a, b):
    return ((a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).max().item()


def make_fixture(entry, models_dir, out_dir):
    family = entry['timm_class'].split('.')[2]
    model = load_model(entry, models_dir)
    # (prefix tokens after the concatenation, patch tokens)
    prefix = (getattr(model, 'num_prefix_tokens', 0) if family in ('vision_transformer', 'deit')
              else 1 if family == 'convit' else 0,
              model.patch_embed.num_patches if family in ('vision_transformer', 'deit', 'convit')
              else model.stem.num_patches if family == 'mlp_mixer' else None)
    probe = Probe()
    instrument(model, family, probe)
    io, _ = read_safetensors(models_dir / entry['io'])
    x = io['input'].to(DT)

    probe.reset('capture')
    with torch.no_grad():
        logits = model(x)
    probe.reset('off')
    assert rel(logits.float(), io['logits']) < 1e-6, f"{entry['name']}: logits differ from the io fixture"
    records = probe.records
    for r in records:
        r['layouts'] = layouts_for(family, model, r['name'], r['h'], r['out'], prefix)
    # consistency of layouts along the chain where a layer feeds the next directly
    layers = [dict(name=r['name'], type=r['type'], in_shape=list(r['h'].shape), out_shape=list(r['out'].shape),
                   in_layout='/'.join(map(str, r['layouts'][0])), out_layout='/'.join(map(str, r['layouts'][1])))
              for r in records]

    tensors, residuals, e2e_vs_lie_fixture = {}, {}, {}
    lie_path = ROOT / 'test/fixtures/lie' / f"{entry['name']}.lie.safetensors"
    lie_ref = read_safetensors(lie_path)[0] if lie_path.exists() else {}
    for gen in GENERATORS:
        probe.reset('off')
        _, e2e, gx = lie_derivative(model, x, gen, INTERP)
        assert rel(gx, apply_g(x, ('nchw',), gen)) < 1e-12, 'input G differs from the closed form'
        total = torch.zeros_like(e2e)
        for r in records:
            lf = layer_lie(r, *r['layouts'], gen)
            c = torch.zeros_like(e2e) if not lf.any() else push_forward(model, probe, x, r['name'], lf)
            tensors[f"contrib.{gen}.{r['name']}"] = c.float()
            total = total + c
        tensors[f'e2e.{gen}'] = e2e.float()
        residuals[gen] = rel(total, e2e)
        if f'lie.{INTERP}.{gen}' in lie_ref:
            e2e_vs_lie_fixture[gen] = rel(e2e.float(), lie_ref[f'lie.{INTERP}.{gen}'])
    meta = dict(model_fixture=entry['weights'], io=entry['io'], arch=entry['arch'], interp=INTERP,
                semantics='SPEC 5.3/5.4: c_i = J_{>i} (J_{f_i} G_in h - G_out f_i(h)) at softmax; '
                          'e2e = J_p(x) G x; see scripts/gen_layerwise_fixtures.py',
                layers=json.dumps([l['name'] for l in layers]),
                residuals=json.dumps({k: float(f'{v:.3g}') for k, v in residuals.items()}))
    path = out_dir / f"{entry['name']}.layerwise.safetensors"
    write_safetensors(path, tensors, meta)
    back, _ = read_safetensors(path)
    assert all(torch.equal(back[k], v) for k, v in tensors.items()), path
    return layers, residuals, e2e_vs_lie_fixture


def main():
    run = fixture_run(__doc__.split('\n')[0], 'test/fixtures/layerwise')
    models_dir, out_dir, entries = run.models_dir, run.out_dir, run.entries
    for entry in run.selected:
        start = time.time()
        layers, residuals, vs_lie = make_fixture(entry, models_dir, out_dir)
        secs = time.time() - start
        print(f"{entry['name']:24s} {secs:5.1f}s {len(layers)} layers "
              + ' '.join(f'{k}={v:.2g}' for k, v in residuals.items()), flush=True)
        bad = {k: v for k, v in residuals.items() if not v <= RESIDUAL_TOL}
        assert not bad, f"{entry['name']}: additivity residual too large: {bad}"
        entries[entry['name']] = dict(
            name=entry['name'], arch=entry['arch'], file=f"{entry['name']}.layerwise.safetensors",
            weights=entry['weights'], io=entry['io'],
            residual={k: float(f'{v:.3g}') for k, v in residuals.items()},
            e2e_vs_lie_fixture={k: float(f'{v:.3g}') for k, v in vs_lie.items()},
            layers=layers)
    write_index(run, generator='scripts/gen_layerwise_fixtures.py', timm_version=run.timm_version,
                torch_version=torch.__version__, interp=INTERP, generators=list(GENERATORS),
                tensors='contrib.<generator>.<layer> and e2e.<generator> [B, classes]; F32 from float64',
                residual='max over images of ||sum_i contrib_i - e2e|| / ||e2e||, float64',
                layouts='nchw | nhwc | tokens/<prefix> | tokens_last/<prefix> | none (G = 0)')


if __name__ == '__main__':
    torch.set_num_threads(1)
    main()
