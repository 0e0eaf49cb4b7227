import type { ModelSpec } from './spec.js';

export const resnetSpecs: ModelSpec[] = [];
