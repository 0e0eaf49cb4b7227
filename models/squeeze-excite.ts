import { ops, type Dual } from '../engine/index.js';
import { Module } from './module.js';
import { layerOp } from './hooks.js';
import { Conv2d, Identity, ReLU, Sigmoid } from './layers.js';

/** The squeeze of squeeze-and-excitation (Hu et al. 2018): the spatial mean per channel,
 * `x.mean((2, 3), keepdim=True)` in timm's forward. A map's mean is not equivariant (the
 * boundary moves), so it is a layer, `<se>.pool`; the excitation `x * gate` that follows
 * is (the gate [B, C, 1, 1] is no image: G = 0, and G commutes with a per-channel scale). */
export function squeeze(se: Module, x: Dual): Dual {
  return layerOp(`${se.name}.pool`, 'spatial_mean', (t) => ops.mean(t, [2, 3], true), x);
}

/** timm's SEModule (timm/layers/squeeze_excite.py; ResNet-RS's `se`): squeeze -> fc1 (1x1
 * conv) -> bn (Identity) -> ReLU -> fc2 (1x1 conv) -> sigmoid gate, times the input. */
export class SEModule extends Module {
  readonly type = 'SEModule';
  readonly fc1: Conv2d;
  readonly bn = new Identity();
  readonly act = new ReLU();
  readonly fc2: Conv2d;
  readonly gate = new Sigmoid();
  constructor(channels: number, reduced: number) {
    super();
    this.fc1 = new Conv2d(channels, reduced, 1, { bias: true });
    this.fc2 = new Conv2d(reduced, channels, 1, { bias: true });
  }
  forward(x: Dual): Dual {
    const s = this.fc2.forward(this.act.forward(this.bn.forward(this.fc1.forward(squeeze(this, x)))));
    return ops.mul(x, this.gate.forward(s));
  }
}
