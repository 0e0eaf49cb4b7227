"""Generate the full-size model fixtures in test/fixtures/fullsize/ (SPEC 7, 9).

Run (Debian's torch 1.13; timm is source, not installed, not vendored):

    /usr/bin/python3 scripts/gen_fullsize_fixtures.py --timm /path/to/timm-v0.9.16 \
        [--out test/fixtures/fullsize] [--only resnet50,...]

About 10 minutes on 2 cores (mostly the one-forward-per-layer sensitivity check); the output is
deterministic. Nothing large is committed: the weights and the input image are not
stored but regenerated, here and in the TypeScript test, from the project's seeded
generator, which this script ports exactly:

- engine/random.ts `Rng`: mulberry32 (uint32 arithmetic; its state is a counter, so
  the port is vectorised), uniform = bits / 2^32, normal = Box-Muller
  sqrt(-2 log max(u1, 1e-12)) cos(2 pi u2) in float64, every sample rounded to float32.
  numpy's log / cos may differ from V8's by a few float64 ulps; that changes the
  float32 sample only where the float64 value lies within a few ulps of a float32
  rounding midpoint, so those samples are recomputed with Python's math module
  (correctly rounded in practice, like V8's fdlibm). The TypeScript test asserts that
  its weights and input reproduce the checksums stored here bit for bit.
- models/init.ts `randomWeights(model, seed)`: one Rng for the whole state_dict, the
  keys in timm's state_dict order (num_batches_tracked skipped), which is the order of
  our module tree's `namedParams` (the test asserts it), with the same per-key rules.

For each architecture in CONFIGS (timm's default configuration, 1000 classes) it writes
  <name>.logits.safetensors  `logits` [1, 1000]: timm's forward in float64 (the float32
                             weights and input cast up), stored as F32.
and manifest.json: per fixture the seeds, timm's attention heads where there are any,
every state_dict tensor as [key, shape, sum, sum of squares] (float64, summed in index
order; the float32 values squared exactly) and the same for the input, and checks:
  f32_vs_f64_logits  timm's float32 forward against the float64 reference, relative to
                     max |logit|: a float32 engine can meet SPEC 7's 1e-4;
  max_abs_logit >= 0.2 (SPEC 7's bound is then at least 2/3 relative), logits_spread
                     (std / max |logit|) >= 0.1, max_prob <= 0.99: the logits are not
                     all alike and the softmax is not saturated;
  leaf_out_std_min/max: activations neither vanish nor explode at 224 px;
  layer_sensitivity_min: over every leaf module with weights, the smallest
                     max |d logit| / (1e-4 max |logit| + 1e-5) when that one layer's
                     output gets seeded noise of 1% of its RMS: above 1, a 1% error in
                     any single layer fails the test.
"""
import argparse
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_model_fixtures import leaf_trace, no_inplace, read_safetensors, write_safetensors  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
IMG = 224
NOISE = 1e-2  # relative RMS of the single-layer perturbation in layer_sensitivity_min
# the seeds of the tests these fixtures serve; the input image uses weight_seed + 1
CONFIGS = [
    dict(name='resnet50', weight_seed=50),
    dict(name='vit_base_patch16_224', weight_seed=7),
    dict(name='convnext_tiny', weight_seed=11),
    dict(name='mixer_b16_224', weight_seed=7),
]


# ---------------------------------------------------------------- engine/random.ts

class Rng:
    """engine/random.ts `Rng`, sample for sample."""

    def __init__(self, seed):
        self.s = seed & 0xFFFFFFFF

    def bits(self, n):
        """The next n mulberry32 outputs: state s_k = seed + k 0x6d2b79f5 (mod 2^32)."""
        k = np.arange(1, n + 1, dtype=np.uint64)
        t = ((self.s + k * np.uint64(0x6D2B79F5)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        self.s = (self.s + n * 0x6D2B79F5) & 0xFFFFFFFF
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t ^= t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61))
        return t ^ (t >> np.uint32(14))

    def uniform(self, n):
        return self.bits(n).astype(np.float64) / 4294967296.0

    def uniforms(self, n, lo, hi):
        return (lo + (hi - lo) * self.uniform(n)).astype(np.float32)

    def normals(self, n, scale=1.0, shift=0.0):
        u = self.uniform(2 * n)
        u1, u2 = np.maximum(u[0::2], 1e-12), u[1::2]
        v = shift + scale * (np.sqrt(-2 * np.log(u1)) * np.cos(2 * math.pi * u2))
        # samples whose float32 rounding a few float64 ulps could flip: recompute with libm
        near = np.nonzero((v * (1 + 2.0 ** -46)).astype(np.float32) != (v * (1 - 2.0 ** -46)).astype(np.float32))[0]
        for i in near.tolist():
            v[i] = shift + scale * (math.sqrt(-2 * math.log(u1[i])) * math.cos(2 * math.pi * u2[i]))
        return v.astype(np.float32)


def random_weights(keys_shapes, seed):
    """models/init.ts `randomWeights`: He-normal conv / linear weights, identity-ish
    norms, small classifier, embeddings and layer scales."""
    rng = Rng(seed)
    out = {}
    for key, shape in keys_shapes:
        n = math.prod(shape)
        fan_in = math.prod(shape[1:])
        leaf = key.split('.')[-1]
        if leaf == 'running_var':
            data = rng.uniforms(n, 0.5, 1.5)
        elif leaf in ('running_mean', 'bias'):
            data = rng.normals(n, 0.1)
        elif leaf == 'gamma':
            data = rng.uniforms(n, 0.1, 0.5)
        elif re.search(r'(cls_token|dist_token|pos_embed)$', key):
            data = rng.normals(n, 0.02)
        elif len(shape) == 1:
            data = rng.uniforms(n, 0.5, 1)
        elif re.fullmatch(r'(fc|head|head_dist|head\.fc|classifier)\.weight', key):
            data = rng.normals(n, 0.01)
        else:
            data = rng.normals(n, math.sqrt(2 / fan_in))
        out[key] = torch.from_numpy(data.reshape(shape))
    return out


def checksum(t):
    """[sum, sum of squares] in float64, accumulated in index order (as the test does)."""
    x = t.detach().reshape(-1).double().numpy()
    return [float(np.cumsum(x)[-1]), float(np.cumsum(x * x)[-1])]


# ---------------------------------------------------------------- checks

def rel_max(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def bound(logits):
    return 1e-4 * logits.abs().max().item() + 1e-5


def layer_sensitivity(model, x, logits):
    """min over weighted leaf modules of max |d logit| / bound for 1% RMS noise on that
    layer's output (float32; the effect is ~1e-2, far above float32 rounding)."""
    worst = (math.inf, '')
    gen = torch.Generator().manual_seed(0)
    for name, m in model.named_modules():
        if next(m.children(), None) is not None or not any(True for _ in m.parameters(recurse=False)):
            continue

        def hook(_mod, _inp, out):
            noise = torch.randn(out.shape, generator=gen, dtype=out.dtype)
            return out + NOISE * out.pow(2).mean().sqrt() * noise

        h = m.register_forward_hook(hook)
        with torch.no_grad():
            ratio = (model(x) - logits).abs().max().item() / bound(logits)
        h.remove()
        worst = min(worst, (ratio, name))
    return worst


def check_quality(c):
    problems = []
    if c['f32_vs_f64_logits'] > 1e-5:
        problems.append('float32 forward too far from float64')
    if c['max_abs_logit'] < 0.2 or c['logits_spread'] < 0.1 or c['max_prob'] > 0.99:
        problems.append('logits too small for a relative bound, all alike, or softmax saturated')
    if c['leaf_out_std_min'] < 0.02 or c['leaf_out_std_max'] > 50:
        problems.append('activations vanish or explode')
    if c['layer_sensitivity_min'] < 1:
        problems.append(f"a 1% error in {c['layer_sensitivity_argmin']} would pass")
    return problems


# ---------------------------------------------------------------- fixtures

def timm_heads(model):
    heads = {m.num_heads for m in model.modules() if type(m).__name__ == 'Attention'}
    assert len(heads) <= 1, heads
    return heads.pop() if heads else None


def make_fixture(cfg, out_dir):
    import timm
    name, seed = cfg['name'], cfg['weight_seed']
    model = timm.create_model(name, pretrained=False)
    no_inplace(model)
    model.eval()
    state = model.state_dict()
    keys_shapes = [(k, list(v.shape)) for k, v in state.items() if not k.endswith('num_batches_tracked')]
    weights = random_weights(keys_shapes, seed)
    model.load_state_dict({**state, **weights})
    x = torch.from_numpy(Rng(seed + 1).normals(3 * IMG * IMG).reshape(1, 3, IMG, IMG))

    with torch.no_grad():
        f32 = model(x)
    trace = leaf_trace(model, x)
    stds = [e['out_std'] for e in trace if not e['name'].endswith('attn_drop')]  # attn_drop sees softmax rows
    sensitivity, argmin = layer_sensitivity(model, x, f32)
    m64 = model.double()
    with torch.no_grad():
        logits = m64(x.double())
    model.float()
    probs = torch.softmax(logits, -1)
    checks = dict(
        f32_vs_f64_logits=rel_max(f32.double(), logits),
        max_abs_logit=logits.abs().max().item(), logits_std=logits.std().item(),
        logits_spread=(logits.std() / logits.abs().max()).item(), max_prob=probs.max().item(),
        leaf_out_std_min=min(stds), leaf_out_std_max=max(stds),
        layer_sensitivity_min=sensitivity, layer_sensitivity_argmin=argmin)
    checks = {k: float(f'{v:.4g}') if isinstance(v, float) else v for k, v in checks.items()}

    path = out_dir / f'{name}.logits.safetensors'
    tensors = dict(logits=logits.float())
    write_safetensors(path, tensors, dict(arch=name, weight_seed=seed, input_seed=seed + 1,
                                          reference='timm float64 forward of the float32 weights and input'))
    back, _ = read_safetensors(path)
    assert torch.equal(back['logits'], tensors['logits']), path
    return dict(name=name, arch=name, weight_seed=seed, input_seed=seed + 1, input_shape=[1, 3, IMG, IMG],
                num_classes=logits.shape[-1], num_heads=timm_heads(model), logits=path.name,
                num_params=sum(p.numel() for p in model.parameters()), checks=checks,
                input_checksum=checksum(x),
                tensors=[[k, s, *checksum(weights[k])] for k, s in keys_shapes])


def write_manifest(path, fields, entries):
    """manifest.json with one line per tensor row (readable diffs, small file)."""
    parts = []
    for e in entries:
        head = json.dumps({k: v for k, v in e.items() if k != 'tensors'}, indent=1).split('\n')[:-1]
        rows = ',\n'.join('   ' + json.dumps(t, separators=(',', ':')) for t in e['tensors'])
        parts.append('\n'.join(' ' + line for line in head) + ',\n  "tensors": [\n' + rows + '\n  ]\n }')
    body = json.dumps(fields, indent=1)[:-2] + ',\n "fixtures": [\n' + ',\n'.join(parts) + '\n ]\n}\n'
    assert json.loads(body) == dict(fields, fixtures=entries)
    path.write_text(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--timm', required=True, help='path to a timm v0.9.16 source tree')
    ap.add_argument('--out', default=str(ROOT / 'test/fixtures/fullsize'))
    ap.add_argument('--only', default='', help='comma-separated architectures (default: all)')
    args = ap.parse_args()
    sys.path.insert(0, args.timm)
    import timm
    assert timm.__version__ == '0.9.16', f'expected timm 0.9.16, got {timm.__version__}'
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    index_path = out_dir / 'manifest.json'
    old = {e['name']: e for e in json.loads(index_path.read_text())['fixtures']} if index_path.exists() else {}
    only = {s for s in args.only.split(',') if s}

    entries, failed = [], []
    for cfg in CONFIGS:
        if only and cfg['name'] not in only:
            if cfg['name'] in old:
                entries.append(old[cfg['name']])
            continue
        start = time.time()
        entry = make_fixture(cfg, out_dir)
        failed += [f"{cfg['name']}: {p}" for p in check_quality(entry['checks'])]
        print(f"{cfg['name']:22s} {time.time() - start:5.0f}s "
              + ' '.join(f'{k}={v:.3g}' if isinstance(v, float) else f'{k}={v}' for k, v in entry['checks'].items()),
              flush=True)
        entries.append(entry)
    fields = dict(generator='scripts/gen_fullsize_fixtures.py', timm_version=timm.__version__,
                  torch_version=torch.__version__, image_size=[IMG, IMG],
                  weights='models/init.ts randomWeights(model, weight_seed), timm state_dict key order',
                  input='engine/random.ts new Rng(input_seed).normals(3 * 224 * 224), shape [1, 3, 224, 224]',
                  tensors='[key, shape, sum, sum of squares]: float64, in index order')
    write_manifest(index_path, fields, entries)
    if failed:
        sys.exit('quality checks failed:\n  ' + '\n  '.join(failed))


if __name__ == '__main__':
    torch.set_num_threads(2)
    main()
