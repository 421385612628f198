import { describeModel, resolveModelSpec, SpecError, type LayersModelSpec, type ModelSpec, type NamedTensor } from '../engine/index.ts';
import { checkTensors } from '../redis/model-store.ts';
import { ModelWeightsError, type FieldProblem } from './errors.ts';
import { decodeSafetensors, SafetensorsError } from './safetensors.ts';

/**
 * `POST /v1/models`: turn an uploaded spec and safetensors file into a resolved spec and the tensors to store.
 * The spec is explicit layers, or a preset with its `inputShape` and `classes` (a stored model has no dataset to
 * take them from). Without a spec, the file's own `__metadata__.spec` is used (keiko's downloads carry it), so a
 * downloaded file imports as it is. Every problem is collected: spec paths are `spec.…`, tensors `weights.<name>`.
 */
export interface PreparedImport {
  spec: LayersModelSpec;
  tensors: NamedTensor[];
}

/** A spec path from the engine (`['model', 'layers', 3, 'kernelSize']`) as an import path (`spec.layers.3.kernelSize`). */
function specPath(path: readonly (string | number)[]): string {
  const rest = path[0] === 'model' ? path.slice(1) : path;
  return ['spec', ...rest].join('.');
}

/**
 * @param spec the parsed `spec` field, or undefined when the request has none (then the file's metadata spec is
 *   parsed with `parseSpec`, which returns the parsed spec or the problems under `weights.__metadata__.spec`).
 * @throws ModelWeightsError listing every problem.
 */
export function prepareImport(
  spec: ModelSpec | undefined,
  file: Uint8Array,
  parseSpec: (raw: unknown) => { spec?: ModelSpec; problems: FieldProblem[] },
): PreparedImport {
  const problems: FieldProblem[] = [];
  let tensors: NamedTensor[] | undefined;
  let metadata: Record<string, string> = {};
  try {
    const decoded = decodeSafetensors(file);
    tensors = decoded.tensors;
    metadata = decoded.metadata;
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    problems.push({ path: e.path === 'file' || e.path === 'header' || e.path === 'data' ? 'weights' : `weights.${e.path}`, message: `not a valid safetensors file: ${e.message}` });
  }
  if (spec === undefined) {
    if (metadata.spec === undefined) {
      if (tensors) problems.push({ path: 'spec', message: 'required (the safetensors file has no __metadata__.spec to take it from)' });
    } else {
      let raw: unknown;
      try {
        raw = JSON.parse(metadata.spec);
      } catch {
        problems.push({ path: 'weights.__metadata__.spec', message: 'is not JSON' });
      }
      if (raw !== undefined) {
        const r = parseSpec(raw);
        problems.push(...r.problems);
        spec = r.spec;
      }
    }
  }
  let resolved: LayersModelSpec | undefined;
  if (spec) {
    if (spec.initFrom !== undefined) problems.push({ path: 'spec.initFrom', message: 'not allowed when importing a model (the weights come with the request)' });
    if ('preset' in spec && (spec.inputShape === undefined || spec.classes === undefined)) {
      if (spec.inputShape === undefined) problems.push({ path: 'spec.inputShape', message: 'required with a preset (an imported model has no dataset to take it from)' });
      if (spec.classes === undefined) problems.push({ path: 'spec.classes', message: 'required with a preset (an imported model has no dataset to take it from)' });
    } else {
      try {
        const data = 'preset' in spec ? { inputShape: spec.inputShape!, classes: spec.classes! } : { inputShape: [...spec.inputShape], classes: 0 };
        resolved = 'preset' in spec ? resolveModelSpec(spec, data) : spec;
        const { initFrom: _drop, ...arch } = resolved;
        resolved = arch as LayersModelSpec;
        describeModel(resolved);
      } catch (e) {
        if (!(e instanceof SpecError)) throw e;
        problems.push({ path: specPath(e.path), message: e.message });
        resolved = undefined;
      }
    }
  }
  if (resolved && tensors) {
    const checked = checkTensors(resolved, tensors);
    problems.push(...checked.problems);
    for (const t of checked.ordered) {
      const bad = t.data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) problems.push({ path: `weights.${t.name}`, message: `value ${bad} is ${t.data[bad]}, not a finite number` });
    }
    tensors = checked.ordered;
  }
  if (problems.length || !resolved || !tensors) throw new ModelWeightsError(problems);
  return { spec: resolved, tensors };
}
