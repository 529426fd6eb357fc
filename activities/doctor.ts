import os from 'node:os';
import type { WorkerDescription } from '../src/domain/doctor';
import { probeContainerRuntime } from '../src/images/container-runtime';
import { STOWAGE_TASK_QUEUE } from '../src/domain/task-queues';
import { sdkVersion } from '../src/temporal/sdk-version';

const GiB = 1024 ** 3;

export async function describeWorker(): Promise<WorkerDescription> {
  return {
    taskQueue: STOWAGE_TASK_QUEUE,
    language: 'typescript',
    pid: process.pid,
    hostname: os.hostname(),
    nodeVersion: process.version,
    sdkVersion: sdkVersion(),
    cpuCount: os.cpus().length,
    freeMemoryGiB: round2(os.freemem() / GiB),
    totalMemoryGiB: round2(os.totalmem() / GiB),
    containers: await probeContainerRuntime(),
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
