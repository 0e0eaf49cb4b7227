import { describe, expect, it } from 'vitest';
import { MODELS } from '../models/registry.js';
import { namedModules } from '../models/module.js';

/** Where a class's timm name is not its own name (timm calls both MLPs `Mlp`; VGG's
 * ConvMlp is another class than ConvNeXt's; DenseNet's features are an nn.Sequential
 * with named children). */
const ALIASES: Record<string, string> = { ConvMlp: 'Mlp', ResMlp: 'MlpMixer', VggConvMlp: 'ConvMlp', NamedSequential: 'Sequential' };

// Reports name layers by `Module.type`, which every class spells out because a
// minifier renames classes (the web build is minified). Here, unminified, each class
// name is still intact: a subclass that forgot its own `type` reports its parent's.
describe('module types', () => {
  for (const spec of MODELS) {
    it(`${spec.name}: every module's type is its own timm class name`, () => {
      const root = spec.build();
      for (const [name, m] of [['', root] as const, ...namedModules(root)]) {
        expect(m.type, `${spec.name} ${name || '(root)'}`).toBe(ALIASES[m.constructor.name] ?? m.constructor.name);
      }
    });
  }
});
