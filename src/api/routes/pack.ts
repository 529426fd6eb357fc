import { z } from 'zod';
import { defaultTimeLimitMs, pack, PackingInputError, validatePackingProblem } from '../../packing';
import { PackingProblemSchema } from '../../packing/validate';
import { ApiProblem, fieldErrorsFromDottedLines, type FieldError } from '../problems';
import { defineRoute, type ApiLimits, type ApiRoute } from '../route';
import type { PackingProblem } from '../../packing';

const PlacementSchema = z.object({
  costPerHour: z.number(),
  lowerBoundPerHour: z.number(),
  instances: z.array(z.object({ type: z.string(), devices: z.array(z.array(z.string())) })),
  unplaced: z.array(z.object({ id: z.string(), reason: z.string() })),
  moves: z.number().optional(),
  stats: z.object({ elapsedMs: z.number(), algorithm: z.string() }),
});

const problem = { description: 'problem details', contentType: 'application/problem+json' };

/** Size first: a list beyond the bound is refused in one line instead of being checked entry by entry. */
function parseProblem(raw: unknown, limits: ApiLimits) {
  const errors: FieldError[] = [];
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const { models, instanceTypes } = raw as { models?: unknown; instanceTypes?: unknown };
    if (Array.isArray(models) && models.length > limits.packMaxModels)
      errors.push({
        pointer: '/models',
        detail: `${models.length} models is more than this endpoint packs synchronously (${limits.packMaxModels}); use \`stowage pack\` or a pipeline`,
      });
    if (Array.isArray(instanceTypes) && instanceTypes.length > limits.packMaxInstanceTypes)
      errors.push({
        pointer: '/instanceTypes',
        detail: `${instanceTypes.length} instance types is more than ${limits.packMaxInstanceTypes}`,
      });
  }
  if (errors.length > 0) return { ok: false as const, errors };
  const valid = validatePackingProblem(raw);
  return valid.ok
    ? { ok: true as const, value: valid.problem }
    : { ok: false as const, errors: fieldErrorsFromDottedLines(valid.defects) };
}

/** A factory: the count of packing calls in flight belongs to one server. */
export function packRoutes(limits: ApiLimits): ApiRoute[] {
  let inFlight = 0;
  return [
    defineRoute<unknown, unknown, PackingProblem>({
      method: 'POST',
      url: '/v1/pack',
      operationId: 'pack',
      summary: 'What-if packing: a PackingProblem in, a Placement out (synchronous, bounded)',
      description:
        `At most ${limits.packMaxModels} models and ${limits.packMaxInstanceTypes} instance types; ` +
        `timeLimitMs is capped at ${limits.packMaxTimeLimitMs} ms (the Stowage-Time-Limit-Ms response ` +
        `header says what was used); ${limits.packConcurrency} call(s) at once, more get 429.`,
      tags: ['packing'],
      scope: 'read',
      body: { schema: PackingProblemSchema, required: true, parse: (raw) => parseProblem(raw, limits) },
      responses: {
        200: { description: 'the placement', schema: PlacementSchema },
        400: problem,
        401: problem,
        403: problem,
        413: problem,
        415: problem,
        422: problem,
        429: problem,
      },
      handler: async ({ body, reply }) => {
        if (inFlight >= limits.packConcurrency) {
          throw new ApiProblem('tooManyRequests', 'the packer is busy; retry shortly', undefined, {
            'Retry-After': '2',
          });
        }
        const timeLimitMs = Math.min(
          body.timeLimitMs ?? defaultTimeLimitMs(body.models.length),
          limits.packMaxTimeLimitMs,
        );
        inFlight++;
        try {
          const placement = await pack({ ...body, timeLimitMs });
          reply.header('Stowage-Time-Limit-Ms', String(timeLimitMs));
          return placement;
        } catch (err) {
          if (err instanceof PackingInputError)
            throw new ApiProblem('validation', err.message, fieldErrorsFromDottedLines(err.defects));
          throw err;
        } finally {
          inFlight--;
        }
      },
    }),
  ];
}
