export * from './layer-spec.ts';
export * from './model-spec.ts';
export * from './optimizer-spec.ts';
export * from './regularization-spec.ts';
export * from './training-spec.ts';
