"""Train the embedded default's eight small Fashion-MNIST models with timm 0.9.16.

Run from the repository root (Debian's torch 1.13 and torchvision 0.14; timm is
source, not installed, not vendored; the data is Debian's dataset-fashion-mnist):

    /usr/bin/python3 scripts/train_demo.py --timm /tmp/timm-v0.9.16

It rewrites assets/fashion-mnist/ (the shipped test images) and assets/demo/<id>/ for
the eight ids fmnist-{resnet,vit,mixer,convnext}-{canonical,augmented}; the committed
run took 37 CPU-minutes in all (each train.json's train_cpu_s: 2-8 minutes per model;
93 minutes of wall time on 2 cores shared with other work), torch.set_num_threads(2).
`--only ID ...` retrains a few (the two ConvNeXt models were trained that way, in
parallel, with --out elsewhere and copied in).
`--reevaluate [--per-class N]` trains nothing: it rewrites the shipped images and
re-records their fields in each train.json from the committed weights (at the default
25 per class, 250 images, it reproduces the committed files byte for byte; the first
10 per class were shipped before, and `lee e2e` on SwiftShader runs 300 in about a
minute on a 2-core machine, 250 in 44 s).
The output is deterministic given --seed (torch.manual_seed; the data order and the
augmentation draws come from seeded generators).

Four families, each small enough for `lee e2e` on SwiftShader, each trained twice:
  canonical  the images as they are;
  augmented  every training image, every epoch, rotated by U(-20, 20) degrees about the
             image centre and translated by U(-4, 4) px in x and in y (independent
             continuous draws per image), bilinear resampling, zero (background) fill:
             torch's affine_grid + grid_sample on the [0, 1] image, before normalising.
Inputs: the 28x28 images zero-padded by 2 px to 32x32 (exact, no interpolation), grey
replicated to 3 channels, normalised with the training split's mean and std (of the
28x28 pixels in [0, 1], rounded to 4 decimals, the same for the 3 channels).

Each assets/demo/<id>/ holds timm's hub layout:
  config.json        timm.models._hub.save_config_for_hf: architecture, num_classes,
                     label_names, model_args, pretrained_cfg (input_size [3, 32, 32],
                     crop_pct 1.0, bilinear, the dataset's mean/std)
  model.safetensors  the state_dict in F16 (timm's keys; BatchNorm num_batches_tracked
                     kept as I64)
  train.json         the training settings, parameter count, test-split accuracy and the
                     accuracy and per-image top-1 on the shipped images, both from the F16
                     weights re-loaded as float32, the shipped images read back from
                     their PNG files as the engine reads them (RGB uint8 / 255, normalised)

timm 0.9.16's ResNet hardcodes stage widths [64, 128, 256, 512]; the ResNet here narrows
them by wrapping timm's own `make_blocks` (as scripts/gen_model_fixtures.py does), so
its config.json records the widths in `lee_note`: timm.create_model alone does not
rebuild it. lee-gpu reads every size from the weights (the ViT's heads from
model_args.num_heads).
"""
import argparse
import gzip
import json
import math
import os
import platform
import struct
import sys
import time
from pathlib import Path

# OpenMP threads that sleep rather than spin at barriers: on a shared machine (more
# runnable threads than cores) spinning made training steps ~10x slower; same numbers.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
          'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
PAD = 2
SIZE = 28 + 2 * PAD
ROTATE_DEG = 20.0
TRANSLATE_PX = 4.0
BATCH = 128
EVAL_BATCH = 500
WEIGHT_DECAY = 0.05
WARMUP_STEPS = 200

RESNET_WIDTHS = [16, 32, 64, 128]
FAMILIES = {
    'resnet': dict(arch='resnet18', module='resnet',
                   model_args=dict(layers=[1, 1, 1, 1]), widths=RESNET_WIDTHS,
                   epochs=5, lr=2e-3),
    'vit': dict(arch='vit_tiny_patch16_224', module='vision_transformer',
                model_args=dict(img_size=SIZE, patch_size=8, embed_dim=48, depth=2, num_heads=3),
                epochs=6, lr=1.5e-3),
    'mixer': dict(arch='mixer_s16_224', module='mlp_mixer',
                  model_args=dict(img_size=SIZE, patch_size=8, num_blocks=2, embed_dim=64),
                  epochs=6, lr=1.5e-3),
    'convnext': dict(arch='convnext_atto', module='convnext',
                     model_args=dict(depths=[1, 1, 1, 1], dims=[16, 32, 48, 64]),
                     epochs=12, lr=2e-3),
}
DISTRIBUTIONS = ['canonical', 'augmented']


# ---------------------------------------------------------------- data

def read_idx(path):
    """idx format: big-endian magic (0, 0, dtype 0x08 = uint8, ndim), ndim sizes, data."""
    raw = gzip.open(path, 'rb').read()
    zero, dtype, ndim = struct.unpack('>HBB', raw[:4])
    assert zero == 0 and dtype == 0x08, f'{path}: not a uint8 idx file'
    shape = struct.unpack(f'>{ndim}I', raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(data, split):
    prefix = 'train' if split == 'train' else 't10k'
    images = read_idx(Path(data) / f'{prefix}-images-idx3-ubyte.gz')
    labels = read_idx(Path(data) / f'{prefix}-labels-idx1-ubyte.gz')
    return images, labels.astype(np.int64)


def pad(images):
    """[N, 28, 28] uint8 -> [N, 32, 32] uint8, zeros around."""
    return np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD)))


def to_input(grey01, mean, std):
    """[N, 1, H, W] in [0, 1] -> normalised [N, 3, H, W] (grey replicated)."""
    return ((grey01 - mean) / std).expand(-1, 3, -1, -1)


def augment(grey01, gen):
    """Per-image rotation U(-20, 20) deg about the centre and translation U(-4, 4) px."""
    n = grey01.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(ROTATE_DEG)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * TRANSLATE_PX
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output coords to input coords (normalised to [-1, 1], align_corners
    # False: 1 px = 2 / SIZE); the inverse of "rotate by angle, then shift" is applied.
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos, sin
    theta[:, 1, 0], theta[:, 1, 1] = -sin, cos
    t = -shift * (2 / SIZE)
    theta[:, 0, 2] = cos * t[:, 0] + sin * t[:, 1]
    theta[:, 1, 2] = -sin * t[:, 0] + cos * t[:, 1]
    grid = F.affine_grid(theta, list(grey01.shape), align_corners=False)
    return F.grid_sample(grey01, grid, mode='bilinear', padding_mode='zeros', align_corners=False)


def shipped_selection(labels, per_class):
    """The first `per_class` test images of each class, in test-file order."""
    return {c: [int(i) for i in np.flatnonzero(labels == c)[:per_class]] for c in range(10)}


def write_shipped(out_dir, test_images, selection):
    from PIL import Image
    out_dir = Path(out_dir)
    for c, indices in selection.items():
        folder = out_dir / str(c)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob('*.png'):
            old.unlink()
        for i in indices:
            Image.fromarray(pad(test_images[i:i + 1])[0], 'L').save(folder / f'{i:04d}.png')


def read_shipped(out_dir, selection, mean, std):
    """The shipped PNGs as lee-gpu reads them: RGB uint8 / 255, normalised (in float64,
    then float32, as the engine's loader does)."""
    from PIL import Image
    names, arrays, labels = [], [], []
    for c, indices in selection.items():
        for i in indices:
            name = f'{c}/{i:04d}.png'
            rgb = np.asarray(Image.open(Path(out_dir) / name).convert('RGB'), np.float64)
            arrays.append(((rgb / 255 - mean) / std).astype(np.float32).transpose(2, 0, 1))
            names.append(name)
            labels.append(c)
    return names, torch.from_numpy(np.stack(arrays)), torch.tensor(labels)


# ---------------------------------------------------------------- models

def pretrained_cfg(timm, arch, distribution, mean, std):
    """timm's pretrained_cfg for these weights: the architecture's head / first-conv names,
    this dataset's preprocessing, nothing of the ImageNet weights' source or licence."""
    default = timm.models.get_pretrained_cfg(arch)
    pool = default.pool_size and tuple(s * SIZE // 224 for s in default.pool_size)
    return dict(
        architecture=arch, tag=f'fmnist_{distribution}', input_size=(3, SIZE, SIZE),
        fixed_input_size=default.fixed_input_size, interpolation='bilinear', crop_pct=1.0,
        crop_mode='center', mean=(mean,) * 3, std=(std,) * 3, num_classes=10,
        pool_size=pool, first_conv=default.first_conv, classifier=default.classifier,
        license='mit',
        description=f'Fashion-MNIST ({distribution}), 32x32 (28x28 zero-padded by 2 px), '
                    'trained by lee-gpu scripts/train_demo.py')


def build(timm, family, distribution, mean, std):
    cfg = FAMILIES[family]
    kw = dict(pretrained=False, num_classes=10,
              pretrained_cfg=pretrained_cfg(timm, cfg['arch'], distribution, mean, std),
              **cfg['model_args'])
    if family == 'mixer':
        # timm 0.9.16's mixer_s16_224 entry point fixes patch_size / num_blocks / embed_dim
        # (dict(patch_size=16, ..., **kwargs) raises on an override): its own builder
        return timm.models.mlp_mixer._create_mixer(cfg['arch'], **kw)
    if family != 'resnet':
        return timm.create_model(cfg['arch'], **kw)
    import timm.models.resnet as resnet_mod
    widths = cfg['widths']
    original = resnet_mod.make_blocks
    resnet_mod.make_blocks = lambda block_fn, _chs, *a, **k: original(block_fn, widths, *a, **k)
    try:
        model = timm.create_model(cfg['arch'], **kw)
    finally:
        resnet_mod.make_blocks = original
    model.num_features = widths[-1] * resnet_mod.BasicBlock.expansion
    model.reset_classifier(10)
    return model


def model_config(family):
    config = {'label_names': list(LABELS)}
    if family == 'resnet':
        config['lee_note'] = (
            f"stage widths {RESNET_WIDTHS}, not timm 0.9.16's hardcoded [64, 128, 256, 512]: "
            "built by scripts/train_demo.py wrapping timm.models.resnet.make_blocks, so "
            "timm.create_model('resnet18', **model_args) alone does not rebuild it; "
            "lee-gpu reads the widths from the weights")
    if family == 'mixer':
        config['lee_note'] = (
            "timm 0.9.16's mixer_s16_224 entry point does not accept patch_size / num_blocks / "
            "embed_dim overrides (timm.create_model raises), so scripts/train_demo.py built it "
            "with timm.models.mlp_mixer._create_mixer('mixer_s16_224', **model_args), i.e. "
            "timm's MlpMixer(**model_args); lee-gpu reads the sizes from the weights")
    return config


# ---------------------------------------------------------------- safetensors

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_model_fixtures import read_safetensors, write_safetensors  # noqa: E402


def f16_state_dict(model):
    return {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- training

def lr_at(step, total, peak):
    """Linear warm-up over WARMUP_STEPS, then cosine to zero."""
    if step < WARMUP_STEPS:
        return peak * (step + 1) / WARMUP_STEPS
    return peak * 0.5 * (1 + math.cos(math.pi * (step - WARMUP_STEPS) / (total - WARMUP_STEPS)))


def train(model, train01, train_labels, cfg, distribution, mean, std, seed, log):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg['lr'], weight_decay=WEIGHT_DECAY)
    n = train01.shape[0]
    steps_per_epoch = n // BATCH  # the last partial batch is dropped
    total = cfg['epochs'] * steps_per_epoch
    step = 0
    for epoch in range(cfg['epochs']):
        model.train()
        order = torch.randperm(n, generator=gen)
        t0, seen_loss = time.perf_counter(), 0.0
        for b in range(steps_per_epoch):
            idx = order[b * BATCH:(b + 1) * BATCH]
            x = train01[idx]
            if distribution == 'augmented':
                x = augment(x, gen)
            for group in opt.param_groups:
                group['lr'] = lr_at(step, total, cfg['lr'])
            loss = F.cross_entropy(model(to_input(x, mean, std)), train_labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen_loss += loss.item()
            step += 1
        log(f'  epoch {epoch + 1}/{cfg["epochs"]}: loss {seen_loss / steps_per_epoch:.4f} '
            f'({time.perf_counter() - t0:.0f} s)')
    model.eval()
    return steps_per_epoch


@torch.no_grad()
def logits_of(model, x):
    model.eval()
    return torch.cat([model(x[i:i + EVAL_BATCH]) for i in range(0, x.shape[0], EVAL_BATCH)])


def accuracy(logits, labels):
    return (logits.argmax(1) == labels).float().mean().item()


# ---------------------------------------------------------------- main

def run_one(timm, family, distribution, data, args, log):
    cfg = FAMILIES[family]
    mean, std = data['mean'], data['std']
    out = Path(args.out) / 'demo' / f'fmnist-{family}-{distribution}'
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    model = build(timm, family, distribution, mean, std)
    params = sum(p.numel() for p in model.parameters())
    log(f'fmnist-{family}-{distribution}: {cfg["arch"]} {cfg["model_args"]}, {params} parameters')

    t0, cpu0 = time.perf_counter(), time.process_time()
    steps_per_epoch = train(model, data['train01'], data['train_labels'], cfg, distribution,
                            mean, std, args.seed, log)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    test_acc_f32 = accuracy(logits_of(model, data['test_x']), data['test_labels'])

    write_safetensors(out / 'model.safetensors', f16_state_dict(model), {'format': 'pt'})
    timm.models._hub.save_config_for_hf(model, out / 'config.json', model_config=model_config(family),
                                        model_args=cfg['model_args'])

    # everything below is measured on the F16 file read back into a float32 model
    reloaded = build(timm, family, distribution, mean, std)
    sd, _ = read_safetensors(out / 'model.safetensors')
    reloaded.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    test_logits = logits_of(reloaded, data['test_x'])

    report = dict(
        id=out.name, family=family, arch=cfg['arch'], timm_class=type(model).__name__,
        model_args=cfg['model_args'], **({'stage_widths': cfg['widths']} if 'widths' in cfg else {}),
        parameters=params, file_bytes=(out / 'model.safetensors').stat().st_size,
        distribution=distribution,
        augmentation=(dict(kind='per-image random affine (torch affine_grid + grid_sample, '
                                  'bilinear, zero fill), on the [0, 1] image before normalising',
                           rotate_deg=[-ROTATE_DEG, ROTATE_DEG], translate_px=[-TRANSLATE_PX, TRANSLATE_PX],
                           distribution='uniform, independent per image and epoch')
                      if distribution == 'augmented' else None),
        input=dict(size=[3, SIZE, SIZE], pad_px=PAD, mean=mean, std=std,
                   note='28x28 zero-padded by 2 px, grey replicated to 3 channels'),
        epochs=cfg['epochs'], batch_size=BATCH, steps=cfg['epochs'] * steps_per_epoch,
        optimiser=dict(name='AdamW', lr=cfg['lr'], weight_decay=WEIGHT_DECAY, betas=[0.9, 0.999]),
        lr_schedule=f'linear warm-up over {WARMUP_STEPS} steps, then cosine to 0, per step',
        loss='cross-entropy', seed=args.seed, torch_threads=torch.get_num_threads(),
        versions=dict(torch=torch.__version__, timm=timm.__version__, python=platform.python_version()),
        train_wall_s=round(wall, 1), train_cpu_s=round(cpu, 1),
        load_average_after=[round(v, 2) for v in os.getloadavg()],
        cpu_count=os.cpu_count(),
        test_accuracy=accuracy(test_logits, data['test_labels']),
        test_accuracy_f32_weights=test_acc_f32,
        test_images=int(data['test_labels'].numel()),
        weights_evaluated='model.safetensors (F16) re-loaded as float32',
        **shipped_report(reloaded, data),
    )
    (out / 'train.json').write_text(json.dumps(report, indent=2) + '\n')
    log(f'  test {report["test_accuracy"]:.4f} (f32 {test_acc_f32:.4f}), shipped '
        f'{report["shipped_accuracy"]:.4f}, {wall:.0f} s, {report["file_bytes"]} bytes')
    return report


def shipped_report(model, data):
    """Accuracy, the tightest top-2 logit margin and the top-1 of every shipped image."""
    logits = logits_of(model, data['shipped_x'])
    top2 = logits.topk(2, dim=1).values
    margin = top2[:, 0] - top2[:, 1]
    tightest = int(margin.argmin())
    preds = logits.argmax(1).tolist()
    return dict(
        shipped_images=len(preds),
        shipped_accuracy=accuracy(logits, data['shipped_labels']),
        shipped_min_top2_logit_margin=dict(image=data['shipped_names'][tightest],
                                           margin=round(margin[tightest].item(), 5)),
        shipped_predictions=dict(zip(data['shipped_names'], preds)),
    )


def reevaluate(timm, family, distribution, data, args, log):
    """Re-record the shipped-image fields of an existing train.json (a new image set), from
    its committed model.safetensors; training fields stay as they were."""
    out = Path(args.out) / 'demo' / f'fmnist-{family}-{distribution}'
    report = json.loads((out / 'train.json').read_text())
    model = build(timm, family, distribution, data['mean'], data['std'])
    sd, _ = read_safetensors(out / 'model.safetensors')
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    report.update(shipped_report(model, data))
    (out / 'train.json').write_text(json.dumps(report, indent=2) + '\n')
    log(f'{out.name}: shipped {report["shipped_accuracy"]:.4f} on {report["shipped_images"]} images')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--timm', required=True, help='timm 0.9.16 source tree')
    ap.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--out', default='assets', help='writes <out>/fashion-mnist and <out>/demo')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--per-class', type=int, default=25, help='shipped test images per class')
    ap.add_argument('--only', nargs='*', help='ids to (re)train, e.g. fmnist-vit-augmented')
    ap.add_argument('--epochs', type=int, help='override every family\'s epochs (for trials)')
    ap.add_argument('--reevaluate', action='store_true',
                    help='no training: rewrite the shipped images and re-record their fields in '
                         'each train.json from the committed weights')
    args = ap.parse_args()
    sys.path.insert(0, args.timm)
    import timm
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    if args.epochs:
        for cfg in FAMILIES.values():
            cfg['epochs'] = args.epochs

    def log(msg):
        print(msg, flush=True)

    train_images, train_labels = load_split(args.data, 'train')
    test_images, test_labels = load_split(args.data, 'test')
    mean = round(float(train_images.mean() / 255), 4)
    std = round(float((train_images / 255).std()), 4)
    log(f'Fashion-MNIST: {len(train_labels)} train, {len(test_labels)} test; mean {mean}, std {std}')

    as01 = lambda a: torch.from_numpy(pad(a)).float().div(255).unsqueeze(1)
    selection = shipped_selection(test_labels, args.per_class)
    write_shipped(Path(args.out) / 'fashion-mnist', test_images, selection)
    names, shipped_x, shipped_labels = read_shipped(Path(args.out) / 'fashion-mnist', selection, mean, std)
    data = dict(mean=mean, std=std, train01=as01(train_images), train_labels=torch.from_numpy(train_labels),
                test_x=to_input(as01(test_images), mean, std).contiguous(),
                test_labels=torch.from_numpy(test_labels),
                shipped_names=names, shipped_x=shipped_x, shipped_labels=shipped_labels)

    t0 = time.perf_counter()
    for family in FAMILIES:
        for distribution in DISTRIBUTIONS:
            if args.only and f'fmnist-{family}-{distribution}' not in args.only:
                continue
            (reevaluate if args.reevaluate else run_one)(timm, family, distribution, data, args, log)
    log(f'done in {time.perf_counter() - t0:.0f} s')


if __name__ == '__main__':
    main()
