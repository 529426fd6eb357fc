import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import type { PipelineProgress, PipelineResult } from '../../src/domain/pipeline';
import type { PipelineInputJson } from '../../src/pipeline/input';
import { progressQuery } from '../../workflows/pipeline';
import { C5_XLARGE } from './catalogs';

/** Where an end-to-end kubernetes pipeline test deploys; the rest of its input is shared. */
export interface KubePipelineTarget {
  /** Pipeline name, and the prefix of its model ids. */
  name: string;
  sources: string[];
  namespace: string;
  registry: string;
  baseImage: string;
  nodeGroup: string;
  artifactsRoot: string;
  /** The EKS cluster, when the test sizes node groups through (moto's) EKS. */
  cluster?: string;
}

/**
 * The kubernetes-runtime pipeline both end-to-end tests start: small CPU models traced at sequence
 * length 32, one c5.xlarge node group, waves of two, smoke tests skipped on kwok, a two-step load test.
 */
export function kubePipelineInput(target: KubePipelineTarget): PipelineInputJson {
  return {
    name: target.name,
    models: target.sources.map((source, i) => ({ id: `${target.name}-${i}`, source })),
    processors: ['cpu'],
    trace: { sequenceLength: 32 },
    catalog: [C5_XLARGE],
    runtime: 'kubernetes',
    kubernetes: {
      namespace: target.namespace,
      registry: target.registry,
      baseImages: { cpu: target.baseImage },
      ...(target.cluster ? { cluster: target.cluster } : {}),
      nodeGroups: [{ name: target.nodeGroup, instanceType: 'c5.xlarge' }],
      maxUnavailable: 2,
      progressDeadlineSeconds: 120,
      artifactsRoot: target.artifactsRoot,
      smokeTest: 'skip-kwok',
    },
    loadTest: { stepSeconds: 2, maxSteps: 2 },
  };
}

/** Runs a pipeline to its result and checks that every stage reports done. */
export async function runPipelineToDone(
  client: Client,
  taskQueue: string,
  workflowId: string,
  input: PipelineInputJson,
): Promise<{ result: PipelineResult; progress: PipelineProgress }> {
  const handle = await client.workflow.start('pipeline', { taskQueue, workflowId, args: [input] });
  const result: PipelineResult = await handle.result();
  const progress: PipelineProgress = await handle.query(progressQuery);
  assert.equal(progress.stage, 'done');
  for (const [name, s] of Object.entries(progress.stages)) assert.equal(s.status, 'done', `stage ${name}`);
  return { result, progress };
}
