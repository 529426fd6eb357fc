import { z } from 'zod';
import { PackingProblemSchema } from '../../packing/validate';
import { PackerBusyError, PackingLimitError, type PackPool } from '../packer/pool';
import { ApiProblem, fieldErrorsFromDottedLines } from '../problems';
import { defineRoute, type ApiLimits, type ApiRoute } from '../route';

const PlacementSchema = z.object({
  costPerHour: z.number(),
  lowerBoundPerHour: z.number(),
  instances: z.array(z.object({ type: z.string(), devices: z.array(z.array(z.string())) })),
  unplaced: z.array(z.object({ id: z.string(), reason: z.string() })),
  moves: z.number().optional(),
  stats: z.object({ elapsedMs: z.number(), algorithm: z.string() }),
});

const problem = { description: 'problem details', contentType: 'application/problem+json' };

/**
 * The body travels to a pack thread as JSON text: parsing, validation and packing all happen there, so
 * a pack, valid or not, holds one of the pool's places from the first byte of work to the last.
 */
export function packRoutes(limits: ApiLimits, pool: PackPool): ApiRoute[] {
  const jobLimits = {
    maxModels: limits.packMaxModels,
    maxInstanceTypes: limits.packMaxInstanceTypes,
    maxTimeLimitMs: limits.packMaxTimeLimitMs,
  };
  return [
    defineRoute<unknown, unknown, string>({
      method: 'POST',
      url: '/v1/pack',
      operationId: 'pack',
      summary: 'What-if packing: a PackingProblem in, a Placement out (synchronous, bounded)',
      description:
        `At most ${limits.packMaxModels} models and ${limits.packMaxInstanceTypes} instance types; ` +
        `timeLimitMs is capped at ${limits.packMaxTimeLimitMs} ms (the Stowage-Time-Limit-Ms response ` +
        `header says what was used) and enforced: a pack still running ${limits.packGraceMs} ms past it ` +
        `is stopped (422 packing-limit). ${limits.packConcurrency} pack(s) run at once in their own ` +
        `threads and ${limits.packQueue} wait; more get 429 with Retry-After.`,
      tags: ['packing'],
      scope: 'read',
      body: { schema: PackingProblemSchema, required: true, text: true },
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
        try {
          const outcome = await pool.pack(body, jobLimits);
          if (!outcome.ok) {
            if (outcome.kind === 'badRequest') throw new ApiProblem('badRequest', outcome.detail);
            throw new ApiProblem('validation', outcome.detail, fieldErrorsFromDottedLines(outcome.defects));
          }
          reply.header('Stowage-Time-Limit-Ms', String(outcome.timeLimitMs));
          return reply.type('application/json; charset=utf-8').send(outcome.placementJson);
        } catch (err) {
          if (err instanceof PackerBusyError)
            throw new ApiProblem('tooManyRequests', 'the packer is busy; retry shortly', undefined, {
              'Retry-After': String(err.retryAfterSeconds),
            });
          if (err instanceof PackingLimitError) throw new ApiProblem('packingLimit', err.message);
          throw err;
        }
      },
    }),
  ];
}
