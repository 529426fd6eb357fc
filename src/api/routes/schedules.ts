import { z } from 'zod';
import {
  createRepackSchedule,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  pauseSchedule,
  RepackScheduleSpecSchema,
  ScheduleExistsError,
  ScheduleNotFoundError,
  ScheduleSpecError,
  parseRepackScheduleSpec,
  triggerSchedule,
  unpauseSchedule,
} from '../../client/schedules';
import { ID_PATTERN, ID_RULE } from '../../domain/ids';
import { ApiProblem, fieldErrorsFromProblemLines } from '../problems';
import { defineRoute, type ApiRoute } from '../route';

const ScheduleIdParams = z.object({ id: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`) }).strict();

/** A note lands in the schedule's state and the Temporal UI: plain printable text only. */
const NoteBody = z
  .object({
    note: z
      .string()
      .max(200)
      .regex(/^[\p{L}\p{N}\p{P}\p{Zs}$+<=>^`|~]*$/u, 'must be printable text without control characters')
      .optional(),
  })
  .strict();

const ScheduleSchema = z.object({
  id: z.string(),
  every: z.string(),
  paused: z.boolean(),
  nextRunAt: z.string().datetime().optional(),
  recentRuns: z.array(z.object({ workflowId: z.string(), startedAt: z.string().datetime() })),
  note: z.string().optional(),
});

const problem = { description: 'problem details', contentType: 'application/problem+json' };
const common = { 400: problem, 401: problem, 403: problem };

function scheduleProblem(err: unknown): never {
  if (err instanceof ScheduleNotFoundError) throw new ApiProblem('notFound', err.message);
  if (err instanceof ScheduleExistsError) throw new ApiProblem('conflict', err.message);
  if (err instanceof ScheduleSpecError)
    throw new ApiProblem('validation', err.message, fieldErrorsFromProblemLines(err.problems));
  throw err;
}

type Params = z.infer<typeof ScheduleIdParams>;
type Note = z.infer<typeof NoteBody>;

const steer = (
  verb: 'trigger' | 'pause' | 'unpause',
  summary: string,
  act: (client: Parameters<typeof triggerSchedule>[0], id: string, note?: string) => Promise<void>,
) =>
  defineRoute<Params, unknown, Note | undefined>({
    method: 'POST',
    url: `/v1/schedules/:id/${verb}`,
    operationId: `${verb}Schedule`,
    summary,
    tags: ['schedules'],
    scope: 'write',
    params: ScheduleIdParams,
    body: { schema: NoteBody, required: false },
    responses: {
      200: { description: 'done', schema: ScheduleSchema },
      ...common,
      404: problem,
      422: problem,
    },
    handler: async ({ params, body, deps }) => {
      await act(deps.client, params.id, body?.note).catch(scheduleProblem);
      return describeSchedule(deps.client, params.id).catch(scheduleProblem);
    },
  });

export const scheduleRoutes: ApiRoute[] = [
  defineRoute<unknown, unknown, z.infer<typeof RepackScheduleSpecSchema>>({
    method: 'POST',
    url: '/v1/schedules',
    operationId: 'createSchedule',
    summary: 'Create a Temporal Schedule that runs `repack` every interval (overlap: skip)',
    tags: ['schedules'],
    scope: 'write',
    body: {
      schema: RepackScheduleSpecSchema,
      required: true,
      parse: (raw) => {
        try {
          return { ok: true, value: parseRepackScheduleSpec(raw) };
        } catch (err) {
          if (err instanceof ScheduleSpecError)
            return { ok: false, errors: fieldErrorsFromProblemLines(err.problems) };
          throw err;
        }
      },
    },
    responses: {
      201: { description: 'created', schema: ScheduleSchema },
      ...common,
      409: problem,
      413: problem,
      415: problem,
      422: problem,
    },
    handler: async ({ body, deps, reply }) => {
      const created = await createRepackSchedule(deps.client, body).catch(scheduleProblem);
      reply.code(201).header('Location', `/v1/schedules/${created.id}`);
      return created;
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/schedules',
    operationId: 'listSchedules',
    summary: 'The repack schedules',
    tags: ['schedules'],
    scope: 'read',
    responses: {
      200: { description: 'schedules', schema: z.object({ schedules: z.array(ScheduleSchema) }) },
      ...common,
    },
    handler: async ({ deps }) => ({ schedules: await listSchedules(deps.client) }),
  }),
  defineRoute<Params, unknown, unknown>({
    method: 'GET',
    url: '/v1/schedules/:id',
    operationId: 'getSchedule',
    summary: 'One repack schedule: interval, paused, next run, recent runs',
    tags: ['schedules'],
    scope: 'read',
    params: ScheduleIdParams,
    responses: { 200: { description: 'the schedule', schema: ScheduleSchema }, ...common, 404: problem },
    handler: async ({ params, deps }) => describeSchedule(deps.client, params.id).catch(scheduleProblem),
  }),
  defineRoute<Params, unknown, unknown>({
    method: 'DELETE',
    url: '/v1/schedules/:id',
    operationId: 'deleteSchedule',
    summary: 'Delete a schedule (runs it already started go on)',
    tags: ['schedules'],
    scope: 'write',
    params: ScheduleIdParams,
    responses: { 204: { description: 'deleted' }, ...common, 404: problem },
    handler: async ({ params, deps, reply }) => {
      await deleteSchedule(deps.client, params.id).catch(scheduleProblem);
      return reply.code(204).send();
    },
  }),
  steer('trigger', 'Run the schedule now (waits behind a run still going)', (c, id) =>
    triggerSchedule(c, id),
  ),
  steer('pause', 'Pause the schedule', pauseSchedule),
  steer('unpause', 'Resume the schedule', unpauseSchedule),
];
