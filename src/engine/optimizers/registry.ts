import { SpecError } from '../errors.ts';
import type { OptimizerSpec } from '../spec/optimizer-spec.ts';
import { AdaGrad } from './adagrad.ts';
import { Adam } from './adam.ts';
import { Momentum } from './momentum.ts';
import { Nesterov } from './nesterov.ts';
import type { Optimizer } from './optimizer.ts';
import { RMSProp } from './rmsprop.ts';
import { SGD } from './sgd.ts';

/**
 * Build the optimizer a parsed `OptimizerSpec` describes (defaults already filled by zod). The switch is
 * exhaustive: a new spec type that is not handled here fails to compile.
 */
export function createOptimizer(spec: OptimizerSpec): Optimizer {
  switch (spec.type) {
    case 'sgd':
      return new SGD({ learningRate: spec.learningRate });
    case 'momentum':
      return new Momentum({ learningRate: spec.learningRate, momentum: spec.momentum });
    case 'nesterov':
      return new Nesterov({ learningRate: spec.learningRate, momentum: spec.momentum });
    case 'adagrad':
      return new AdaGrad({ learningRate: spec.learningRate, epsilon: spec.epsilon });
    case 'rmsprop':
      return new RMSProp({ learningRate: spec.learningRate, decay: spec.decay, epsilon: spec.epsilon });
    case 'adam':
      return new Adam({ learningRate: spec.learningRate, beta1: spec.beta1, beta2: spec.beta2, epsilon: spec.epsilon });
    default: {
      const never: never = spec;
      throw new SpecError(`unknown optimizer type ${String((never as { type: unknown }).type)}`, ['optimizer', 'type']);
    }
  }
}
