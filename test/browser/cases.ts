import { Tensor, tidy, dual, primalOf, ops, type AdapterSummary, type Dual, type Operand } from '../../engine/index.js';

/** One computation run both in Node and in the page, on plain arrays. */
export interface BrowserCase {
  name: string;
  /** constant inputs (weights) never carry tangents */
  inputs: { shape: number[]; constant?: boolean }[];
  run: (xs: Operand[]) => Dual;
}

export interface CaseInput {
  shape: number[];
  data: number[];
  /** `[K, ...shape]` flattened, or null for no tangent */
  tangents: number[] | null;
}

export interface CaseResult {
  shape: number[];
  primal: number[];
  /** `[K, ...shape]` flattened */
  tangents: number[] | null;
}

/** What the page exposes on `window.lee`. */
export interface LeePage {
  adapter(): Promise<AdapterSummary>;
  run(name: string, inputs: CaseInput[]): Promise<CaseResult>;
}

export const browserCases: BrowserCase[] = [
  {
    name: 'gelu',
    inputs: [{ shape: [2, 3, 5, 7] }],
    run: ([x]) => ops.gelu(x!),
  },
  {
    name: 'mul (broadcast)',
    inputs: [{ shape: [2, 3, 4, 5] }, { shape: [3, 1, 5] }],
    run: ([a, b]) => ops.mul(a!, b!),
  },
  {
    name: 'conv2d (padding 1)',
    inputs: [{ shape: [2, 3, 8, 8] }, { shape: [4, 3, 3, 3], constant: true }, { shape: [4], constant: true }],
    run: ([x, w, b]) => ops.conv2d(x!, primalOf(w!), primalOf(b!), { padding: 1 }),
  },
];

/** Run a case by name on the engine of whichever side calls it (Node or the page). */
export async function runCase(name: string, inputs: CaseInput[]): Promise<CaseResult> {
  const c = browserCases.find((c) => c.name === name);
  if (!c) throw new Error(`no browser case named ${name}`);
  const out = tidy(() => {
    const operands = inputs.map((input): Operand => {
      const primal = Tensor.fromData(input.data, input.shape);
      if (!input.tangents) return primal;
      const k = input.tangents.length / primal.size;
      return dual(primal, Tensor.fromData(input.tangents, [k, ...input.shape]));
    });
    return c.run(operands);
  });
  try {
    const primal = Array.from(await out.primal.read());
    const tangents = out.tangents ? Array.from(await out.tangents.read()) : null;
    return { shape: [...out.primal.shape], primal, tangents };
  } finally {
    out.primal.dispose();
    out.tangents?.dispose();
  }
}
