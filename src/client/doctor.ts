import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { DoctorInput, DoctorReport } from '../domain/doctor';
import { STOWAGE_TASK_QUEUE } from '../domain/task-queues';

/** Runs the `doctor` workflow and waits for its report. */
export async function runDoctor(
  client: Client,
  input: DoctorInput,
): Promise<{ workflowId: string; report: DoctorReport }> {
  const workflowId = `doctor-${randomUUID()}`;
  const report = await client.workflow.execute('doctor', {
    taskQueue: STOWAGE_TASK_QUEUE,
    workflowId,
    args: [input],
    workflowExecutionTimeout: '10 minutes',
  });
  return { workflowId, report: report as DoctorReport };
}
