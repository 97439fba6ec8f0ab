/** `meridian validate [DIR]`: the checks every synth runs, on any folder of rendered YAML. */
import { formatProblem } from '../kernel/problems';
import { readEnvironmentContext, readObjects, validateObjects } from '../checks';
import { Io, reportFailure, stdio } from './io';

/** 0 clean, 1 problems (the report, on stdout), 2 unusable input. */
export function runValidate(dir: string, io: Io = stdio): number {
  let objects;
  let context;
  try {
    objects = readObjects(dir);
    // Validating one region folder: the environment's other regions are read for cross-region references.
    context = readEnvironmentContext(dir, objects);
  } catch (e) {
    return reportFailure(io, 'validate', e, '');
  }
  const problems = validateObjects(objects, undefined, context);
  problems.forEach((p) => io.out(formatProblem(p)));
  if (problems.length > 0) {
    io.err(`validate: ${problems.length} problem(s) in ${objects.length} objects`);
    return 1;
  }
  io.out(`validate: ${objects.length} objects, no problems`);
  return 0;
}
