import type { OpCase } from '../helpers/optest.js';

export const attentionCases: OpCase[] = [];
