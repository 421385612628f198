import { describeModel, type LayerSpec, type LayersModelSpec, type NamedTensor } from '../../engine/index.ts';
import { AttrType, DataType, onnxRoot } from './onnx-proto.ts';

/**
 * keiko model → ONNX (opset 13), inference form. Graph: `input` float [N, ...inputShape] → one node (or a few)
 * per layer → `logits` [N, classes] → Softmax(axis 1) → `probabilities` [N, classes]. Both are graph outputs.
 * Weights are initializers named as in safetensors (`<layerIndex>.<param>`), so the two files agree.
 *
 * Layer → operator, and why each matches keiko's eval-mode forward:
 * - dense: Gemm(X, W, b) with W kept [fanIn, units] (transB = 0): y = x·W + b. A per-sample input of rank > 1
 *   goes through Flatten(axis 1) first (keiko flattens C,H,W in the same row-major order).
 * - conv2d: Conv with `group`, pads [top, left, bottom, right] = [PH, PW, PH, PW], W [F, C/groups, KH, KW].
 * - maxpool2d: MaxPool (padding never wins in both; floor output size, ceil_mode 0).
 * - avgpool2d: AveragePool with count_include_pad = 1 (keiko divides every window by KH·KW, padding included).
 * - relu / sigmoid / tanh / flatten: Relu / Sigmoid / Tanh / Flatten(axis 1).
 * - dropout: `inverted` → Identity; `eval` (the book's form) → Mul by (1 − rate).
 * - batchnorm: BatchNormalization with the running statistics, epsilon; works on [N, C] and [N, C, H, W].
 * - lrn: keiko sums a_j² over j ∈ [i − ⌊n/2⌋, i + ⌊n/2⌋] and multiplies by α; ONNX sums over
 *   [i − ⌊(s−1)/2⌋, i + ⌈(s−1)/2⌉] and multiplies by α/s. With s = 2⌊n/2⌋ + 1 (= n for odd n) the windows are
 *   equal, so we export size s and alpha α·s.
 * @see https://onnx.ai/onnx/operators/
 */

export const ONNX_OPSET = 13;
/** IR version 7 goes with opset 13 (onnx/docs/Versioning.md). */
export const ONNX_IR_VERSION = 7;

/** A layer with no ONNX counterpart (none today: the switch below is exhaustive over keiko's layer types). */
export class OnnxExportError extends Error {
  readonly code = 'ONNX_UNSUPPORTED';
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

type Attr = { name: string; type: number; i?: number; f?: number; ints?: number[]; floats?: number[]; s?: Uint8Array };
type Node = { op_type: string; input: string[]; output: string[]; name: string; attribute: Attr[] };

const int = (name: string, i: number): Attr => ({ name, type: AttrType.INT, i });
const ints = (name: string, v: number[]): Attr => ({ name, type: AttrType.INTS, ints: v });
const float = (name: string, f: number): Attr => ({ name, type: AttrType.FLOAT, f });

const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

function f32Tensor(name: string, dims: number[], data: Float32Array) {
  const bytes = new Uint8Array(data.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  return { name, dims, data_type: DataType.FLOAT, raw_data: bytes };
}

function valueInfo(name: string, dims: (number | string)[]) {
  return {
    name,
    type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } },
  };
}

export interface OnnxExportOptions {
  /** Graph name and model doc string. */
  name?: string;
  /** Extra `metadata_props` (the model id, the job…). */
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/** Build the ONNX file. `tensors` must be the spec's (as `expectedTensors` lists them; unchecked here). */
export function exportOnnx(spec: LayersModelSpec, tensors: readonly NamedTensor[], opts: OnnxExportOptions = {}): Uint8Array {
  const summary = describeModel(spec);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const nodes: Node[] = [];
  const initializers: ReturnType<typeof f32Tensor>[] = [];
  const weight = (i: number, param: string): string => {
    const name = `${i}.${param}`;
    const t = byName.get(name);
    if (!t) throw new OnnxExportError(`tensor ${name} is missing`);
    initializers.push(f32Tensor(name, [...t.shape], t.data));
    return name;
  };
  let cur = 'input';
  let shape: readonly number[] = spec.inputShape;
  const node = (i: number, op: string, inputs: string[], attribute: Attr[] = [], suffix = ''): string => {
    const out = `${i}.${op.toLowerCase()}${suffix}`;
    nodes.push({ op_type: op, input: inputs, output: [out], name: `layer${i}_${op}${suffix}`, attribute });
    return out;
  };

  spec.layers.forEach((layer: LayerSpec, i: number) => {
    switch (layer.type) {
      case 'dense': {
        if (shape.length > 1) cur = node(i, 'Flatten', [cur], [int('axis', 1)]);
        const inputs = [cur, weight(i, 'weight')];
        if (layer.useBias) inputs.push(weight(i, 'bias'));
        cur = node(i, 'Gemm', inputs, [float('alpha', 1), float('beta', 1), int('transA', 0), int('transB', 0)]);
        break;
      }
      case 'conv2d': {
        const [kh, kw] = pair(layer.kernelSize);
        const [sh, sw] = pair(layer.stride);
        const [ph, pw] = pair(layer.padding);
        const inputs = [cur, weight(i, 'weight')];
        if (layer.useBias) inputs.push(weight(i, 'bias'));
        cur = node(i, 'Conv', inputs, [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('pads', [ph, pw, ph, pw]), ints('dilations', [1, 1]), int('group', layer.groups)]);
        break;
      }
      case 'maxpool2d':
      case 'avgpool2d': {
        const [kh, kw] = pair(layer.poolSize);
        const [sh, sw] = pair(layer.stride ?? layer.poolSize);
        const [ph, pw] = pair(layer.padding);
        const attrs = [ints('kernel_shape', [kh, kw]), ints('strides', [sh, sw]), ints('pads', [ph, pw, ph, pw]), int('ceil_mode', 0)];
        cur = layer.type === 'maxpool2d' ? node(i, 'MaxPool', [cur], attrs) : node(i, 'AveragePool', [cur], [...attrs, int('count_include_pad', 1)]);
        break;
      }
      case 'flatten':
        cur = node(i, 'Flatten', [cur], [int('axis', 1)]);
        break;
      case 'relu':
        cur = node(i, 'Relu', [cur]);
        break;
      case 'sigmoid':
        cur = node(i, 'Sigmoid', [cur]);
        break;
      case 'tanh':
        cur = node(i, 'Tanh', [cur]);
        break;
      case 'dropout':
        if (layer.scaling === 'eval') {
          const scale = `${i}.keep`;
          initializers.push(f32Tensor(scale, [], Float32Array.of(1 - layer.rate)));
          cur = node(i, 'Mul', [cur, scale]);
        } else {
          cur = node(i, 'Identity', [cur]);
        }
        break;
      case 'batchnorm':
        cur = node(i, 'BatchNormalization', [cur, weight(i, 'gamma'), weight(i, 'beta'), weight(i, 'runningMean'), weight(i, 'runningVar')], [float('epsilon', layer.epsilon), float('momentum', layer.momentum)]);
        break;
      case 'lrn': {
        // The engine allows LRN on [C, H, W] inputs only, which is also what ONNX's LRN takes.
        const size = 2 * Math.floor(layer.size / 2) + 1;
        cur = node(i, 'LRN', [cur], [int('size', size), float('alpha', layer.alpha * size), float('beta', layer.beta), float('bias', layer.k)]);
        break;
      }
      default: {
        const never: never = layer;
        throw new OnnxExportError(`layer ${i}: type ${(never as { type: string }).type} has no ONNX export`);
      }
    }
    shape = summary.layers[i].outputShape;
  });

  const classes = summary.outputShape[0];
  nodes.push({ op_type: 'Identity', input: [cur], output: ['logits'], name: 'logits', attribute: [] });
  nodes.push({ op_type: 'Softmax', input: ['logits'], output: ['probabilities'], name: 'softmax', attribute: [int('axis', 1)] });

  const Model = onnxRoot().lookupType('onnx.ModelProto');
  const model = {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'keiko',
    producer_version: opts.producerVersion ?? '0.1.0',
    doc_string: opts.name ?? '',
    metadata_props: Object.entries({ spec: JSON.stringify(spec), ...opts.metadata }).map(([key, value]) => ({ key, value })),
    graph: {
      name: opts.name ?? 'keiko',
      node: nodes,
      initializer: initializers,
      input: [valueInfo('input', ['N', ...spec.inputShape])],
      output: [valueInfo('probabilities', ['N', classes]), valueInfo('logits', ['N', classes])],
    },
  };
  const err = Model.verify(model);
  if (err) throw new Error(`ONNX model does not match the schema: ${err}`);
  return Model.encode(Model.fromObject(model)).finish();
}
