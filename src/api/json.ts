import { ApiProblem } from './problems';

/**
 * JSON.parse with the reason kept (Fastify's parser answers every failure with the same sentence) and
 * prototype-pollution keys refused outright: no handler ever sees "__proto__" or constructor.prototype.
 * Its own module, because the pack worker parses its bodies off the event loop with it.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new ApiProblem('badRequest', 'the JSON body is empty');
  try {
    return JSON.parse(text, function (key, value) {
      if (
        key === '__proto__' ||
        (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value)
      ) {
        throw new ApiProblem(
          'badRequest',
          `the JSON body uses the key "${key}", which is refused (prototype pollution)`,
        );
      }
      return value;
    });
  } catch (err) {
    if (err instanceof ApiProblem) throw err;
    throw new ApiProblem('badRequest', `the body is not valid JSON: ${(err as Error).message}`);
  }
}
