import { z } from 'zod';

/**
 * Optimizers with the course's defaults (COURSE.md B6). Formulas live in each optimizer class's TSDoc.
 */
const lr = (d: number) => z.number().positive().max(100).default(d);
const eps = z.number().positive().max(1).default(1e-7);

export const SgdSpecSchema = z.strictObject({ type: z.literal('sgd'), learningRate: lr(0.01) }).meta({ id: 'SgdOptimizer' });
export const MomentumSpecSchema = z.strictObject({ type: z.literal('momentum'), learningRate: lr(0.01), momentum: z.number().min(0).lt(1).default(0.9) }).meta({ id: 'MomentumOptimizer' });
export const NesterovSpecSchema = z.strictObject({ type: z.literal('nesterov'), learningRate: lr(0.01), momentum: z.number().min(0).lt(1).default(0.9) }).meta({ id: 'NesterovOptimizer' });
export const AdagradSpecSchema = z.strictObject({ type: z.literal('adagrad'), learningRate: lr(0.01), epsilon: eps }).meta({ id: 'AdagradOptimizer' });
export const RmspropSpecSchema = z.strictObject({ type: z.literal('rmsprop'), learningRate: lr(0.01), decay: z.number().min(0).lt(1).default(0.99), epsilon: eps }).meta({ id: 'RmspropOptimizer' });
export const AdamSpecSchema = z.strictObject({
  type: z.literal('adam'),
  learningRate: lr(0.001),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  epsilon: eps,
}).meta({ id: 'AdamOptimizer' });

export const OptimizerSpecSchema = z
  .discriminatedUnion('type', [SgdSpecSchema, MomentumSpecSchema, NesterovSpecSchema, AdagradSpecSchema, RmspropSpecSchema, AdamSpecSchema])
  .meta({ id: 'Optimizer' });
export type OptimizerSpec = z.infer<typeof OptimizerSpecSchema>;
export type OptimizerType = OptimizerSpec['type'];
