import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { STOWAGE_TASK_QUEUE } from '../domain/task-queues';

export interface TypeScriptWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
}

/** The worker of the `stowage` queue: every workflow, and the TypeScript activities. */
export async function createTypeScriptWorker(options: TypeScriptWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: STOWAGE_TASK_QUEUE,
    workflowsPath: require.resolve('../../workflows'),
    activities: createActivities(options.deps),
  });
}
