"""Generate the end-to-end Lie-derivative fixtures in test/fixtures/lie/ (SPEC 5.1, 5.2, 7).

Run (Debian's torch 1.13; timm is source, not installed, not vendored), after
scripts/gen_model_fixtures.py has written test/fixtures/models/:

    /usr/bin/python3 scripts/gen_lie_fixtures.py --timm /path/to/timm-v0.9.16 \
        [--models test/fixtures/models] [--out test/fixtures/lie] [--only NAME,...]

An independent PyTorch implementation of the transforms: it shares nothing with the
TypeScript engine but the spec. For every fixture in the models' manifest.json it loads
the fixture weights into timm's model in float64 and computes, for the fixture's `input`
images x, the Lie derivative of the softmax output

    L_G p(x) = d/dt softmax(f(T_t x)) at t = 0

for each of the ten generators and for bilinear and bicubic sampling, with
torch.autograd.forward_ad (t is a dual number at 0 with tangent 1). It writes
<name>.lie.safetensors: `lie.<interp>.<generator>` [N, classes], `probs` and `logits`
[N, classes], all F32 (computed in float64); __metadata__ names the model fixture and
the checks that passed. The output is deterministic.

Transforms (SPEC 5.1). Output pixel (i, j) samples x at the point A(t) p, computed in
integer pixel units: u = j + t vx(i, j), v = i + t vy(i, j), where (vx, vy) = G p scaled
by ((W-1)/2, (H-1)/2) and p = (-1 + 2j/(W-1), -1 + 2i/(H-1), 1). At t = 0 the points are
exactly the pixel centres, so T_0 x == x bit for bit. Sampling gathers taps around
floor(u), floor(v): bilinear weights (1 - f, f) on taps 0, 1; bicubic Keys a = -0.5 on
taps -1..2; a tap k outside [0, n) reflects as the paper's k -> (n-1) - |(n-1) - |k||
(n = 1 -> 0). `saturate` is x -> (1 + t) x on the normalised input.

Why forward AD through floor is the right bilinear reference. floor(u) is piecewise
constant, so forward AD gives it a zero tangent and differentiates the interpolation
weights only, i.e. it differentiates the interpolant of the cell [floor(u), floor(u)+1].
At t = 0, u = j exactly (integer arithmetic in float64), so that cell is [j, j+1] and the
result is vx (x[i, j+1] - x[i, j]) + vy (x[i+1, j] - x[i, j]) for either sign of the
velocity: exactly SPEC 5.1's one-sided definition. A plain difference quotient in t
cannot check this for generators whose velocities take both signs (for negative vx a
small positive t moves into the cell [j-1, j]), so the script checks bilinear three ways
that are valid: (a) the image tangent G x against SPEC 5.1's closed form, (b) the model's
forward-mode result against a central difference in t of the model applied to the
*frozen-cell* resampling (taps and reflection fixed at t = 0's cell, weights evaluated
at the signed fraction t v: a polynomial in t, so central differences converge), and
(c) for translate_x / translate_y, whose velocities are positive everywhere, against
the right-sided quotient (f(h) - f(0)) / h of the true resampling. Bicubic is C1 in
the sample point, so its forward-mode result is checked against a central difference
of the true resampling (floor recomputed at t = +-h); so is saturate. Finally the same
forward-mode computation in float32 must land within 1e-4 of the float64 result, so the
fixtures leave a float32 engine room inside SPEC 7's 1e-3. manifest.json here lists the
fixtures with their worst check values (per interpolation, over generators and images).
"""
import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch
import torch.autograd.forward_ad as fwAD

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_model_fixtures import build_timm, no_inplace, read_safetensors, write_safetensors  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INTERPS = ('bilinear', 'bicubic')
# SPEC 5.1: G = dA/dt(0) as rows [a b c; d e f] acting on p = (x_n, y_n, 1); stretch is
# diag(1 + t, 1) (not the paper's degenerate matrix). Order = lee/transforms.ts GENERATORS.
GENERATORS = {
    'translate_x': (0, 0, 1, 0, 0, 0),
    'translate_y': (0, 0, 0, 0, 0, 1),
    'rotate': (0, 1, 0, -1, 0, 0),
    'shear_x': (0, 1, 0, 0, 0, 0),
    'shear_y': (0, 0, 0, 1, 0, 0),
    'stretch_x': (1, 0, 0, 0, 0, 0),
    'stretch_y': (0, 0, 0, 0, 1, 0),
    'saturate': None,
    'scale': (-1, 0, 0, 0, -1, 0),
    'hyperbolic_rotate': (0, 1, 0, 1, 0, 0),
}
POSITIVE_VELOCITY = ('translate_x', 'translate_y')
# Difference steps move every input value by at most this much: the fixture networks
# have ReLU / max-pool kinks within ~1e-6 of some inputs, so a fixed step in t (velocities
# reach ~30 px per unit t) would cross them; see difference_error.
FD_CHANGES = (1e-6, 1e-7, 1e-8)
FD_TOL = 1e-5       # central differences (bicubic, saturate, frozen-cell bilinear)
ONE_SIDED_TOL = 1e-4  # right-sided quotient, O(h) error
F32_TOL = 1e-4      # timm in float32 vs the float64 reference: 10x inside SPEC 7's 1e-3
DT = torch.float64


# ---------------------------------------------------------------- transforms

def pixel_grid(h, w, dtype=DT):
    """Integer pixel centres (column j, row i), each [H, W]."""
    i, j = torch.meshgrid(torch.arange(h, dtype=dtype), torch.arange(w, dtype=dtype), indexing='ij')
    return j, i


def velocity(gen, h, w, dtype=DT):
    """(vx, vy) in pixel units, [H, W] each: G p scaled by ((W-1)/2, (H-1)/2)."""
    a, b, c, d, e, f = GENERATORS[gen]
    j, i = pixel_grid(h, w, dtype)
    xn = -1 + 2 * j / (w - 1) if w > 1 else torch.zeros_like(j)
    yn = -1 + 2 * i / (h - 1) if h > 1 else torch.zeros_like(i)
    return (a * xn + b * yn + c) * (w - 1) / 2, (d * xn + e * yn + f) * (h - 1) / 2


def reflect(k, n):
    """The paper's reflection of integer tap indices into [0, n)."""
    if n == 1:
        return torch.zeros_like(k)
    m = n - 1
    r = m - (m - k.abs()).abs()
    assert bool(((r >= 0) & (r <= m)).all()), 'tap reflected out of range: t too large'
    return r


def tap_weights(f, interp):
    """Weights of taps (first offset, [w_0, w_1, ...]) at fraction f."""
    if interp == 'bilinear':
        return 0, [1 - f, f]
    # Keys' cubic convolution, a = -0.5, at distances 1 + f, f, 1 - f, 2 - f
    f2, f3 = f * f, f * f * f
    return -1, [-0.5 * f3 + f2 - 0.5 * f, 1.5 * f3 - 2.5 * f2 + 1, -1.5 * f3 + 2 * f2 + 0.5 * f, 0.5 * f3 - 0.5 * f2]


def resample(x, u, v, interp, cell=None):
    """x [N, C, H, W] sampled at pixel points (u, v) [H, W] (dual or plain), taps reflected.
    The cell is floor(u), floor(v) (zero tangent); `cell` freezes it to given integers."""
    n, ch, h, w = x.shape
    cu, cv = cell if cell is not None else (torch.floor(u), torch.floor(v))
    first, wu = tap_weights(u - cu, interp)
    _, wv = tap_weights(v - cv, interp)
    cu, cv = fwAD.unpack_dual(cu).primal.long(), fwAD.unpack_dual(cv).primal.long()
    out = 0
    for a, wa in enumerate(wv):
        rows = reflect(cv + first + a, h)
        for e, we in enumerate(wu):
            cols = reflect(cu + first + e, w)
            out = out + wa * we * x[:, :, rows, cols]
    return out


def transformed(x, gen, t, interp, frozen=False):
    """T_t x for generator `gen`; t a float or a dual scalar."""
    if GENERATORS[gen] is None:
        return (1 + t) * x
    h, w = x.shape[-2:]
    j, i = pixel_grid(h, w, x.dtype)
    vx, vy = velocity(gen, h, w, x.dtype)
    return resample(x, j + t * vx, i + t * vy, interp, cell=(j, i) if frozen else None)


def closed_form_tangent(x, gen, interp):
    """SPEC 5.1's G x: one-sided (bilinear) or central (bicubic) differences, reflected."""
    if GENERATORS[gen] is None:
        return x
    h, w = x.shape[-2:]
    vx, vy = velocity(gen, h, w)
    j, i = (g.long() for g in pixel_grid(h, w))

    def at(di, dj):
        return x[:, :, reflect(i + di, h), reflect(j + dj, w)]
    if interp == 'bilinear':
        return vx * (at(0, 1) - at(0, 0)) + vy * (at(1, 0) - at(0, 0))
    return vx * (at(0, 1) - at(0, -1)) / 2 + vy * (at(1, 0) - at(-1, 0)) / 2


# ---------------------------------------------------------------- Lie derivatives

def lie_derivative(model, x, gen, interp):
    """softmax(model(T_t x)) and its t-derivative at t = 0, by forward-mode AD; also G x."""
    with fwAD.dual_level():
        t = fwAD.make_dual(torch.zeros((), dtype=x.dtype), torch.ones((), dtype=x.dtype))
        xt = transformed(x, gen, t, interp)
        moved, gx = fwAD.unpack_dual(xt)
        assert torch.equal(moved, x), f'{gen} {interp}: T_0 x is not x'
        probs = torch.softmax(model(xt), dim=-1)
        p, dp = fwAD.unpack_dual(probs)
    return p, dp, gx


def probs_at(model, x, gen, t, interp, frozen=False):
    with torch.no_grad():
        return torch.softmax(model(transformed(x, gen, t, interp, frozen)), dim=-1)


def rel(a, b):
    """max over images of ||a - b|| / ||b||"""
    return ((a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).max().item()


def difference_error(dp, quotient):
    """Best agreement of dp with a difference quotient over shrinking steps: a kink of the
    network crossed inside [-h, h] spoils one step, and the chance of that shrinks with h."""
    return min(rel(dp, quotient(change)) for change in FD_CHANGES)


def checks_for(model, x, gen, interp, dp, gx):
    """The validity checks of the module docstring, as {name: worst relative error}."""
    scale = gx.abs().max().item()

    def central(frozen):
        def quotient(change):
            h = change / scale
            return (probs_at(model, x, gen, h, interp, frozen) - probs_at(model, x, gen, -h, interp, frozen)) / (2 * h)
        return quotient

    def right_sided(change):
        h = change / scale
        return (probs_at(model, x, gen, h, interp) - probs_at(model, x, gen, 0.0, interp)) / h

    out = {'tangent_vs_closed_form': rel(gx, closed_form_tangent(x, gen, interp))}
    if interp == 'bicubic' or GENERATORS[gen] is None:
        out['vs_central_fd'] = difference_error(dp, central(False))
    else:
        out['vs_frozen_cell_central_fd'] = difference_error(dp, central(True))
        if gen in POSITIVE_VELOCITY:
            out['vs_right_sided_fd'] = difference_error(dp, right_sided)
    return out


def load_model(entry, models_dir):
    """timm's model for a fixture entry, with the fixture weights, float64, eval."""
    family = entry['timm_class'].split('.')[2]
    factory = entry.get('factory') or entry['timm_class'].split('.')[-1]
    model = build_timm(family, factory, entry['kwargs'], entry.get('patch', {}))
    no_inplace(model)
    state, _ = read_safetensors(models_dir / entry['weights'])
    model.load_state_dict(state, strict=True)
    return model.double().eval()


def make_fixture(entry, models_dir, out_dir):
    model = load_model(entry, models_dir)
    io, _ = read_safetensors(models_dir / entry['io'])
    x = io['input'].to(DT)
    with torch.no_grad():
        logits = model(x)
    # the loaded model reproduces the model fixture (its references are float64 stored as F32)
    assert rel(logits.float(), io['logits']) < 1e-6, f"{entry['name']}: logits differ from the io fixture"

    model32, x32 = copy.deepcopy(model).float(), io['input']
    tensors, worst = {}, {}
    for interp in INTERPS:
        for gen in GENERATORS:
            p, dp, gx = lie_derivative(model, x, gen, interp)
            tensors[f'lie.{interp}.{gen}'] = dp.float()
            # how far the same computation in float32 lands (what a float32 engine can hope for)
            f32 = rel(lie_derivative(model32, x32, gen, interp)[1].double(), dp)
            worst[f'{interp}.f32_vs_f64'] = max(worst.get(f'{interp}.f32_vs_f64', 0.0), f32)
            for k, v in checks_for(model, x, gen, interp, dp, gx).items():
                worst[f'{interp}.{k}'] = max(worst.get(f'{interp}.{k}', 0.0), v)
                tol = ONE_SIDED_TOL if k == 'vs_right_sided_fd' else FD_TOL if 'fd' in k else 1e-12
                assert v <= tol, f"{entry['name']} {interp} {gen}: {k} = {v:.3g} > {tol}"
            assert f32 <= F32_TOL, f"{entry['name']} {interp} {gen}: float32 is {f32:.3g} off; fixture ill-conditioned"
    tensors['probs'] = p.float()
    tensors['logits'] = logits.float()
    meta = dict(model_fixture=entry['weights'], io=entry['io'], arch=entry['arch'],
                input='input of the io fixture, already normalised',
                semantics='SPEC 5.1/5.2: d/dt softmax(f(T_t x)) at t=0, pixel-unit sample points, '
                          'paper reflection, stretch = diag(1+t, 1)',
                checks=json.dumps({k: float(f'{v:.3g}') for k, v in worst.items()}))
    path = out_dir / f"{entry['name']}.lie.safetensors"
    write_safetensors(path, tensors, meta)
    back, _ = read_safetensors(path)
    assert all(torch.equal(back[k], v) for k, v in tensors.items()), path
    return worst


def fixture_run(description, default_out):
    """The fixture scripts' shared command line: --timm (put on sys.path, checked to be
    0.9.16), --models, --out, --only; returns the selected manifest entries, the output
    folder and the existing index entries (reruns of --only keep the others)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument('--timm', required=True, help='path to a timm v0.9.16 source tree')
    ap.add_argument('--models', default=str(ROOT / 'test/fixtures/models'))
    ap.add_argument('--out', default=str(ROOT / default_out))
    ap.add_argument('--only', default='', help='comma-separated fixture names (default: all)')
    args = ap.parse_args()
    sys.path.insert(0, args.timm)
    import timm
    assert timm.__version__ == '0.9.16', f'expected timm 0.9.16, got {timm.__version__}'
    models_dir, out_dir = Path(args.models), Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((models_dir / 'manifest.json').read_text())
    only = {s for s in args.only.split(',') if s}
    index_path = out_dir / 'manifest.json'
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    return argparse.Namespace(
        models_dir=models_dir, out_dir=out_dir, manifest=manifest, index_path=index_path,
        timm_version=timm.__version__,
        selected=[e for e in manifest['fixtures'] if not only or e['name'] in only],
        entries={e['name']: e for e in index.get('fixtures', [])})


def write_index(run, **fields):
    """The output folder's manifest.json: `fields`, then the fixtures in manifest order."""
    order = [e['name'] for e in run.manifest['fixtures']]
    index = dict(fields, fixtures=sorted(run.entries.values(), key=lambda e: order.index(e['name'])))
    run.index_path.write_text(json.dumps(index, indent=1) + '\n')


def main():
    run = fixture_run(__doc__.split('\n')[0], 'test/fixtures/lie')
    models_dir, out_dir, entries = run.models_dir, run.out_dir, run.entries
    for entry in run.selected:
        start = time.time()
        worst = make_fixture(entry, models_dir, out_dir)
        print(f"{entry['name']:24s} {time.time() - start:5.1f}s " + ' '.join(f'{k}={v:.2g}' for k, v in worst.items()),
              flush=True)
        entries[entry['name']] = dict(name=entry['name'], arch=entry['arch'], lie=f"{entry['name']}.lie.safetensors",
                                      weights=entry['weights'], io=entry['io'],
                                      checks={k: float(f'{v:.3g}') for k, v in worst.items()})
    write_index(run, generator='scripts/gen_lie_fixtures.py', timm_version=run.timm_version,
                torch_version=torch.__version__, interps=list(INTERPS), generators=list(GENERATORS),
                tensors='lie.<interp>.<generator> [N, classes]; probs, logits [N, classes]; all F32 from float64')


if __name__ == '__main__':
    torch.set_num_threads(1)
    main()
