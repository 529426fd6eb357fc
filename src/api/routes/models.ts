import { z } from 'zod';
import { ID_PATTERN, ID_RULE } from '../../domain/ids';
import {
  addModel,
  DEFAULT_INVENTORY_KEY,
  InventoryError,
  ModelExistsError,
  ModelNotFoundError,
  readInventory,
  removeModel,
} from '../../inventory';
import { ModelSpecSchema } from '../../pipeline/input';
import { ApiProblem, fieldErrorsFromProblemLines } from '../problems';
import { defineRoute, type ApiRoute } from '../route';

/**
 * Only files under inventory/ can be edited through the API: a write token must not be able to replace
 * a placement, a report or a trace with a model list.
 */
const InventoryQuery = z
  .object({
    inventory: z
      .string()
      .regex(
        /^inventory\/[a-z0-9][a-z0-9-]{0,62}\.json$/,
        'must be inventory/<name>.json, <name> a lowercase id',
      )
      .default(DEFAULT_INVENTORY_KEY),
  })
  .strict();

const ModelIdParams = z.object({ id: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`) }).strict();

const InventorySchema = z.object({
  key: z.string(),
  sha256: z.string().describe('changes whenever the set of models does; repack compares it'),
  models: z.array(ModelSpecSchema),
});

const problem = { description: 'problem details', contentType: 'application/problem+json' };
const common = { 400: problem, 401: problem, 403: problem };

function inventoryProblem(err: unknown): never {
  if (err instanceof ModelExistsError) throw new ApiProblem('conflict', err.message);
  if (err instanceof ModelNotFoundError) throw new ApiProblem('notFound', err.message);
  if (err instanceof InventoryError) {
    // An invalid entry is the request's fault; the last model staying is a state conflict.
    if (err.problems.length > 0)
      throw new ApiProblem(
        'validation',
        err.message.split('\n')[0],
        fieldErrorsFromProblemLines(err.problems),
      );
    throw new ApiProblem('conflict', err.message);
  }
  throw err;
}

type Query = z.infer<typeof InventoryQuery>;

/** The model inventory that `repack` keeps the fleet in step with (also `stowage models`). */
export const modelRoutes: ApiRoute[] = [
  defineRoute<unknown, Query, unknown>({
    method: 'GET',
    url: '/v1/models',
    operationId: 'listModels',
    summary: 'The model inventory',
    tags: ['models'],
    scope: 'read',
    query: InventoryQuery,
    responses: { 200: { description: 'the inventory', schema: InventorySchema }, ...common, 404: problem },
    handler: async ({ query, deps }) => {
      const inventory = await readInventory(deps.artifacts, query.inventory).catch(inventoryProblem);
      if (!inventory) throw new ApiProblem('notFound', `there is no inventory ${query.inventory} yet`);
      return inventory;
    },
  }),
  defineRoute<unknown, Query, z.infer<typeof ModelSpecSchema>>({
    method: 'POST',
    url: '/v1/models',
    operationId: 'addModel',
    summary: 'Add a model to the inventory (the next repack traces and places it)',
    tags: ['models'],
    scope: 'write',
    query: InventoryQuery,
    body: { schema: ModelSpecSchema, required: true },
    responses: {
      201: { description: 'the inventory with the model', schema: InventorySchema },
      ...common,
      409: problem,
      413: problem,
      415: problem,
      422: problem,
    },
    handler: async ({ query, body, deps, reply }) => {
      const inventory = await addModel(deps.artifacts, body, query.inventory).catch(inventoryProblem);
      reply.code(201);
      return inventory;
    },
  }),
  defineRoute<z.infer<typeof ModelIdParams>, Query, unknown>({
    method: 'DELETE',
    url: '/v1/models/:id',
    operationId: 'removeModel',
    summary: 'Remove a model from the inventory (the last one stays)',
    tags: ['models'],
    scope: 'write',
    params: ModelIdParams,
    query: InventoryQuery,
    responses: {
      200: { description: 'the inventory without the model', schema: InventorySchema },
      ...common,
      404: problem,
      409: problem,
    },
    handler: async ({ params, query, deps }) =>
      removeModel(deps.artifacts, params.id, query.inventory).catch(inventoryProblem),
  }),
];
