import type { InstanceTypeSpec } from '../packing/types';

/**
 * This machine as a PackingProblem instance type (docs/contracts.md), so the packer can pack for the local
 * runtime. A "device" is one model-server process pinned to a share of the cores; the machine is one
 * instance of which exactly one is available.
 */

export interface LocalMachine {
  cpus: number;
  memoryGiB: number;
}

/** An instance type of the packing contract (PackingProblem.instanceTypes). */
export type InstanceType = InstanceTypeSpec;

export const LOCAL_INSTANCE_TYPE = 'local-cpu';

/**
 * Notional price of one vCPU-hour: AWS c5 On-Demand (c5.xlarge, 4 vCPU, $0.17/h, us-east-1). The local
 * machine costs nothing extra, but $/model-hour is only comparable with the post's table if its cores
 * are priced like the cloud's.
 */
export const VCPU_HOUR_USD = 0.0425;

/**
 * One device per `coresPerDevice` cores (at least one). Each device gets an equal share of half the host
 * memory (the other half stays with the OS, k6 and the workers) and a compute capacity of 1.0, the unit
 * model profiles express compute demand in (the share of one device a model keeps busy under its load).
 */
export function localInstanceType(machine: LocalMachine, coresPerDevice = 1): InstanceType {
  const devices = Math.max(1, Math.floor(machine.cpus / Math.max(1, coresPerDevice)));
  const servingMemory = machine.memoryGiB / 2;
  return {
    name: LOCAL_INSTANCE_TYPE,
    processor: 'cpu',
    pricePerHour: Math.round(machine.cpus * VCPU_HOUR_USD * 10_000) / 10_000,
    devices,
    device: { memoryGiB: Math.round((servingMemory / devices) * 100) / 100, compute: 1 },
    hostMemoryGiB: Math.round(servingMemory * 100) / 100,
    available: 1,
  };
}
