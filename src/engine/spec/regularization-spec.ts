import { z } from 'zod';

/**
 * L1/L2 penalties on the weights of dense and conv2d layers (never biases or batchnorm parameters).
 * Loss += l1·Σ|W| + ½·l2·ΣW²; gradient += l1·sign(W) + l2·W, added before the optimizer step.
 */
export const RegularizationSpecSchema = z
  .strictObject({
    l1: z.number().min(0).max(100).default(0),
    l2: z.number().min(0).max(100).default(0),
  })
  .meta({ id: 'Regularization' });
export type RegularizationSpec = z.infer<typeof RegularizationSpecSchema>;
