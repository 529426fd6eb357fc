import { z } from 'zod';
import {
  approvePipeline,
  cancelPipeline,
  describePipeline,
  IDEMPOTENCY_KEY_PATTERN,
  IdempotencyConflictError,
  LIST_FILTER_PATTERNS,
  LIST_STATUSES,
  listPipelines,
  PipelineInputError,
  PipelineNotFoundError,
  pipelineExists,
  pipelineReportKey,
  PipelineStateError,
  startPipeline,
  WORKFLOW_ID_PATTERN,
} from '../../client/pipeline';
import { isArtifactKey } from '../../artifacts/keys';
import { STAGES } from '../../domain/pipeline';
import { parsePipelineInput, PipelineInputSchema } from '../../pipeline/input';
import { ApiProblem, fieldErrorsFromProblemLines } from '../problems';
import { defineRoute, type ApiRoute } from '../route';

const WorkflowIdParams = z
  .object({
    id: z
      .string()
      .regex(WORKFLOW_ID_PATTERN, 'must be a workflow id: letters, digits, ".", "_", "-", at most 255'),
  })
  .strict();

const StageProgressSchema = z.object({
  status: z.enum(['pending', 'running', 'done', 'skipped', 'failed']),
  done: z.number(),
  total: z.number(),
  detail: z.string().optional(),
  output: z.string().optional(),
});

const FailureSchema = z.object({
  stage: z.enum(STAGES),
  modelId: z.string().optional(),
  message: z.string(),
});

const ProgressSchema = z.object({
  stage: z.enum([...STAGES, 'done', 'failed', 'cancelled']),
  stages: z.record(z.enum(STAGES), StageProgressSchema),
  failures: z.array(FailureSchema),
  costPerHour: z.number().nullable(),
  awaitingApproval: z.boolean(),
  approvedBy: z.string().optional(),
});

const SummarySchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  status: z.string().describe('Temporal execution status: RUNNING, COMPLETED, FAILED, CANCELLED, ...'),
  startTime: z.string().datetime(),
  closeTime: z.string().datetime().optional(),
  stage: z.string().optional().describe('StowageStage search attribute'),
  runtime: z.string().optional(),
  modelCount: z.number().optional(),
  costPerHour: z.number().optional(),
  startedBy: z.string().optional().describe('name of the API token that started the run'),
});

const ResultSchema = z.object({
  placement: z.string().optional(),
  report: z.string().optional(),
  costPerHour: z.number().nullable(),
  modelsServed: z.number(),
  failures: z.array(FailureSchema),
  kneeRequestsPerSecond: z.number().optional(),
  p90AtKneeMs: z.number().optional(),
});

const StatusSchema = SummarySchema.extend({
  progress: ProgressSchema.nullable(),
  result: ResultSchema.optional(),
  failure: z.string().optional(),
});

const StartedSchema = z.object({
  workflowId: z.string(),
  runId: z.string().optional(),
  started: z.boolean().describe('false when this request found the run an earlier one started'),
  status: z.string(),
});

const IdempotencyKeyHeader = z
  .string()
  .regex(IDEMPOTENCY_KEY_PATTERN, 'letters, digits, ".", "_", ":" and "-", at most 128 characters');

const ListQuery = z
  .object({
    stage: z
      .string()
      .regex(LIST_FILTER_PATTERNS.stage, 'must be a stage name like trace, awaiting-approval or done')
      .optional(),
    runtime: z.string().regex(LIST_FILTER_PATTERNS.runtime, 'must be a runtime name like local').optional(),
    status: z.enum(Object.keys(LIST_STATUSES) as [keyof typeof LIST_STATUSES]).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

const problem = { description: 'problem details', contentType: 'application/problem+json' };
const common = { 400: problem, 401: problem, 403: problem };

/** Temporal's and the client's errors in the API's words. */
export function steeringProblem(err: unknown): never {
  if (err instanceof PipelineNotFoundError) throw new ApiProblem('notFound', err.message);
  if (err instanceof PipelineStateError) throw new ApiProblem('conflict', err.message);
  if (err instanceof IdempotencyConflictError) throw new ApiProblem('conflict', err.message);
  if (err instanceof PipelineInputError)
    throw new ApiProblem('validation', err.message, fieldErrorsFromProblemLines(err.problems));
  throw err;
}

export const pipelineRoutes: ApiRoute[] = [
  defineRoute<unknown, unknown, unknown>({
    method: 'POST',
    url: '/v1/pipelines',
    operationId: 'startPipeline',
    summary: 'Start a pipeline run (build → trace → pack → deploy → test → report)',
    description:
      'Without Idempotency-Key the run id derives from the input (pipeline-<name>-<hash>): the same input ' +
      'while it runs attaches to the running one (200, started:false). With Idempotency-Key the id derives ' +
      'from the key alone and is never reused: a retry gets the first run (200, started:false) and a ' +
      'different body under the same key gets 409.',
    tags: ['pipelines'],
    scope: 'write',
    headers: {
      'Idempotency-Key': { schema: IdempotencyKeyHeader, description: 'a retry key chosen by the caller' },
    },
    body: {
      schema: PipelineInputSchema,
      required: true,
      parse: (raw) => {
        const parsed = parsePipelineInput(raw);
        return parsed.ok
          ? { ok: true, value: raw }
          : { ok: false, errors: fieldErrorsFromProblemLines(parsed.problems) };
      },
    },
    responses: {
      200: { description: 'the run an earlier request started', schema: StartedSchema },
      201: { description: 'started', schema: StartedSchema },
      ...common,
      409: problem,
      413: problem,
      415: problem,
      422: problem,
    },
    handler: async ({ request, reply, body, caller, deps }) => {
      const key = request.headers['idempotency-key'];
      if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key))) {
        throw new ApiProblem('badRequest', 'invalid Idempotency-Key header', [
          { parameter: 'Idempotency-Key', detail: 'letters, digits, ".", "_", ":" and "-", at most 128' },
        ]);
      }
      const { handle, started } = await startPipeline(deps.client, body, {
        idempotencyKey: key,
        startedBy: caller?.name,
      }).catch(steeringProblem);
      const described = await handle.describe();
      reply
        .code(started ? 201 : 200)
        .header('Location', `/v1/pipelines/${encodeURIComponent(handle.workflowId)}`);
      return {
        workflowId: handle.workflowId,
        runId: described.runId,
        started,
        status: described.status.name,
      };
    },
  }),
  defineRoute<unknown, z.infer<typeof ListQuery>, unknown>({
    method: 'GET',
    url: '/v1/pipelines',
    operationId: 'listPipelines',
    summary: 'List pipeline runs, newest first, filtered by stage, runtime and status',
    tags: ['pipelines'],
    scope: 'read',
    query: ListQuery,
    responses: {
      200: { description: 'runs', schema: z.object({ runs: z.array(SummarySchema) }) },
      ...common,
    },
    handler: async ({ query, deps }) => {
      const { limit, ...filters } = query;
      return { runs: await listPipelines(deps.client, filters, limit) };
    },
  }),
  defineRoute<z.infer<typeof WorkflowIdParams>, unknown, unknown>({
    method: 'GET',
    url: '/v1/pipelines/:id',
    operationId: 'getPipeline',
    summary: 'Status of a run with its progress (the `progress` query), result or failure',
    tags: ['pipelines'],
    scope: 'read',
    params: WorkflowIdParams,
    responses: { 200: { description: 'the run', schema: StatusSchema }, ...common, 404: problem },
    handler: async ({ params, deps }) => describePipeline(deps.client, params.id).catch(steeringProblem),
  }),
  defineRoute<z.infer<typeof WorkflowIdParams>, unknown, unknown>({
    method: 'POST',
    url: '/v1/pipelines/:id/approve',
    operationId: 'approvePipeline',
    summary: 'Approve the deploy of a run that waits for approval (the approveDeploy update)',
    description: 'The approver recorded in the run is the name of the calling token. 409 when nothing waits.',
    tags: ['pipelines'],
    scope: 'write',
    params: WorkflowIdParams,
    responses: {
      200: { description: 'approved', schema: z.object({ workflowId: z.string(), approvedBy: z.string() }) },
      ...common,
      404: problem,
      409: problem,
    },
    handler: async ({ params, deps, caller }) => {
      const by = caller?.name ?? 'unknown';
      await approvePipeline(deps.client, params.id, by).catch(steeringProblem);
      return { workflowId: params.id, approvedBy: by };
    },
  }),
  defineRoute<z.infer<typeof WorkflowIdParams>, unknown, unknown>({
    method: 'POST',
    url: '/v1/pipelines/:id/cancel',
    operationId: 'cancelPipeline',
    summary: 'Cancel a run: it stops the model servers it started and keeps its artifacts',
    tags: ['pipelines'],
    scope: 'write',
    params: WorkflowIdParams,
    responses: {
      202: {
        description: 'cancellation requested',
        schema: z.object({ workflowId: z.string(), cancelRequested: z.literal(true) }),
      },
      ...common,
      404: problem,
      409: problem,
    },
    handler: async ({ params, deps, reply }) => {
      await cancelPipeline(deps.client, params.id).catch(steeringProblem);
      reply.code(202);
      return { workflowId: params.id, cancelRequested: true };
    },
  }),
  defineRoute<z.infer<typeof WorkflowIdParams>, unknown, unknown>({
    method: 'GET',
    url: '/v1/pipelines/:id/report',
    operationId: 'getPipelineReport',
    summary: "A finished run's report: HTML (Accept: text/html) or JSON (default)",
    tags: ['pipelines'],
    scope: 'read',
    params: WorkflowIdParams,
    responses: {
      200: { description: 'report.json, or report.html when asked for text/html' },
      ...common,
      404: problem,
      406: problem,
    },
    handler: async ({ params, deps, request, reply }) => {
      const format = negotiate(request.headers.accept);
      if (!format)
        throw new ApiProblem('notAcceptable', 'the report is available as application/json or text/html');
      const run = await pipelineExists(deps.client, params.id).catch(steeringProblem);
      const key = pipelineReportKey(params.id, format);
      if (!isArtifactKey(key) || !(await deps.artifacts.exists(key))) {
        throw new ApiProblem(
          'notFound',
          `run ${params.id} has no report yet (status ${run.status}, stage ${run.stage ?? 'not started'})`,
        );
      }
      const data = await deps.artifacts.read(key);
      reply.header('Vary', 'Accept');
      if (format === 'html') {
        // The report is static HTML with inline styles and SVG: nothing in it may run or load.
        reply
          .type('text/html; charset=utf-8')
          .header(
            'Content-Security-Policy',
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
          );
      } else reply.type('application/json; charset=utf-8');
      return reply.send(data);
    },
  }),
];

/** A small Accept negotiation between the two forms of a report; JSON when the client does not care. */
export function negotiate(accept: string | undefined): 'json' | 'html' | undefined {
  if (!accept || accept.trim() === '') return 'json';
  const offers = new Map<string, 'json' | 'html'>([
    ['application/json', 'json'],
    ['text/html', 'html'],
  ]);
  let best: { format: 'json' | 'html'; q: number; specific: number } | undefined;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q <= 0) continue;
    const candidates: { format: 'json' | 'html'; specific: number }[] =
      type === '*/*'
        ? [{ format: 'json', specific: 0 }]
        : type === 'text/*'
          ? [{ format: 'html', specific: 1 }]
          : type === 'application/*'
            ? [{ format: 'json', specific: 1 }]
            : offers.has(type)
              ? [{ format: offers.get(type)!, specific: 2 }]
              : [];
    for (const c of candidates) {
      if (!best || q > best.q || (q === best.q && c.specific > best.specific)) best = { ...c, q };
    }
  }
  return best?.format;
}
