import { z } from 'zod';
import { defineRoute, type ApiRoute } from '../route';

const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  temporal: z.enum(['reachable', 'unreachable']),
});

/** The one route without a token: it says whether the API can reach Temporal, and nothing else. */
export const healthRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/healthz',
    operationId: 'health',
    summary: 'Liveness and Temporal reachability (no token needed)',
    tags: ['health'],
    scope: 'none',
    responses: {
      200: { description: 'healthy', schema: HealthSchema },
      503: { description: 'Temporal is unreachable', schema: HealthSchema },
    },
    handler: async ({ deps, reply }) => {
      let timer: NodeJS.Timeout | undefined;
      const reachable = await Promise.race([
        deps.client.workflowService.getSystemInfo({}).then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 2000))),
      ])
        .catch(() => false)
        .finally(() => clearTimeout(timer));
      reply.code(reachable ? 200 : 503);
      return { status: reachable ? 'ok' : 'degraded', temporal: reachable ? 'reachable' : 'unreachable' };
    },
  }),
];
