import type { OpCase } from '../helpers/optest.js';

export const reduceCases: OpCase[] = [];
