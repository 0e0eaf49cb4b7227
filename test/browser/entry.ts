import { init, describeAdapter } from '../../engine/index.js';
import { runCase, type LeePage } from './cases.js';

const lee: LeePage = {
  adapter: async () => describeAdapter((await init()).adapter),
  run: async (name, inputs) => {
    await init();
    return runCase(name, inputs);
  },
};

(window as unknown as { lee: LeePage }).lee = lee;
