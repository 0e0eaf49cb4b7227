import type { ModelSpec } from './spec.js';

export const vitSpecs: ModelSpec[] = [];
