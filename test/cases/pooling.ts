import type { OpCase } from '../helpers/optest.js';

export const poolingCases: OpCase[] = [];
