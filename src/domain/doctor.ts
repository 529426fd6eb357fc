import type { Processor } from './task-queues';

/** Wire types of the doctor workflow (camelCase JSON, mirrored by python-tracer/stowage_tracer/wire.py). */

export interface DoctorInput {
  /** Tracer queues to ask; default: cpu only, since gpu/inf workers exist only on such hosts. */
  processors?: Processor[];
  /** How long each tracer measures matrix-multiply throughput (0 skips the measurement). */
  benchmarkMs?: number;
  /** How long to wait for a worker to pick up a tracer queue before reporting it unreachable. */
  waitForWorkerSeconds?: number;
}

export interface WorkerDescription {
  taskQueue: string;
  language: 'typescript';
  pid: number;
  hostname: string;
  nodeVersion: string;
  sdkVersion: string;
  cpuCount: number;
  freeMemoryGiB: number;
  totalMemoryGiB: number;
  /** Whether this host can start the images Stowage builds (src/images/container-runtime.ts). */
  containers: ContainerRuntimeDescription;
}

export interface ContainerRuntimeDescription {
  /** e.g. "podman 4.3.1 + runc 1.1.5 (cgroups hybrid v1/v2, vfs storage)"; null where none can run. */
  runtime: string | null;
  /** Why containers cannot run here; null when they can. */
  reason: string | null;
}

export interface DeviceDescription {
  index: number;
  name: string;
  memoryGiB: number;
}

export interface TracerDescribeInput {
  processor: Processor;
  benchmarkMs: number;
}

export interface TracerDescription {
  taskQueue: string;
  language: 'python';
  processor: Processor;
  pid: number;
  hostname: string;
  pythonVersion: string;
  temporalioVersion: string;
  torchVersion: string;
  transformersVersion: string;
  cudaAvailable: boolean;
  neuronAvailable: boolean;
  /** Devices of the queue's processor (the CPU counts as one device). */
  devices: DeviceDescription[];
  cpuCount: number;
  freeMemoryGiB: number;
  totalMemoryGiB: number;
  /** Measured float32 matmul throughput on the queue's processor; null when not measured. */
  matmulGflops: number | null;
}

export interface UnreachableQueue {
  taskQueue: string;
  reason: string;
}

export interface DoctorReport {
  stowage: WorkerDescription;
  tracers: TracerDescription[];
  unreachable: UnreachableQueue[];
}
