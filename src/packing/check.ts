import {
  DEFAULT_COMPUTE_FRACTION,
  DEFAULT_MEMORY_FRACTION,
  typeKey,
  type PackingProblem,
  type Placement,
} from './types';

/**
 * Verifies a placement against the problem from the raw input alone, sharing no code with the solver:
 * every model exactly once (placed or unplaced), every device and host within its caps, availability,
 * and the reported cost. Returns the violations; an empty list means feasible.
 */
export function checkPlacement(problem: PackingProblem, placement: Placement): string[] {
  const violations: string[] = [];
  const memFrac = problem.limits?.memoryFraction ?? DEFAULT_MEMORY_FRACTION;
  const cpuFrac = problem.limits?.computeFraction ?? DEFAULT_COMPUTE_FRACTION;
  const types = new Map(problem.instanceTypes.map((t) => [typeKey(t), t]));
  const models = new Map(problem.models.map((m) => [m.id, m]));
  const seen = new Map<string, string>();
  const note = (id: string, where: string) => {
    if (!models.has(id)) violations.push(`${where}: unknown model "${id}"`);
    const before = seen.get(id);
    if (before !== undefined) violations.push(`${where}: model "${id}" also at ${before}`);
    seen.set(id, where);
  };
  const leq = (a: number, b: number) => a <= b * (1 + 1e-9) + 1e-12;
  const counts = new Map<string, number>();
  let cost = 0;
  let devices = 0;
  let spotDevices = 0;
  placement.instances.forEach((inst, k) => {
    const key = typeKey({ name: inst.type, market: inst.market });
    const type = types.get(key);
    if (!type) {
      violations.push(`instances[${k}]: unknown type "${key}"`);
      return;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
    cost += type.pricePerHour;
    devices += type.devices;
    if (type.market === 'spot') spotDevices += type.devices;
    if (inst.devices.length !== type.devices) {
      violations.push(`instances[${k}]: ${inst.devices.length} devices, type has ${type.devices}`);
    }
    let host = 0;
    inst.devices.forEach((ids, d) => {
      let mem = 0;
      let cpu = 0;
      for (const id of ids) {
        note(id, `instances[${k}].devices[${d}]`);
        const demand = models.get(id)?.demands[type.processor];
        if (!demand) {
          violations.push(`instances[${k}].devices[${d}]: "${id}" has no demand for ${type.processor}`);
          continue;
        }
        mem += demand.memoryGiB;
        cpu += demand.compute;
        host += demand.hostMemoryGiB ?? 0;
      }
      if (!leq(mem, type.device.memoryGiB * memFrac))
        violations.push(`instances[${k}].devices[${d}]: memory ${mem} over cap`);
      if (!leq(cpu, type.device.compute * cpuFrac))
        violations.push(`instances[${k}].devices[${d}]: compute ${cpu} over cap`);
    });
    if (type.hostMemoryGiB !== undefined && !leq(host, type.hostMemoryGiB)) {
      violations.push(`instances[${k}]: host memory ${host} over ${type.hostMemoryGiB}`);
    }
  });
  for (const [name, used] of counts) {
    const available = types.get(name)?.available;
    if (available !== undefined && used > available)
      violations.push(`${used} × ${name} but only ${available} available`);
  }
  const maxSpot = problem.limits?.maxSpotFraction;
  if (maxSpot !== undefined && spotDevices > maxSpot * devices + 1e-9)
    violations.push(`${spotDevices} of ${devices} devices on spot, over limits.maxSpotFraction ${maxSpot}`);
  placement.unplaced.forEach((u, k) => note(u.id, `unplaced[${k}]`));
  for (const id of models.keys())
    if (!seen.has(id)) violations.push(`model "${id}" is neither placed nor unplaced`);
  if (Math.abs(cost - placement.costPerHour) > 1e-6 * Math.max(1, cost)) {
    violations.push(`costPerHour ${placement.costPerHour} but the instances cost ${cost}`);
  }
  if (placement.lowerBoundPerHour > placement.costPerHour + 1e-9 * Math.max(1, cost)) {
    violations.push(
      `lowerBoundPerHour ${placement.lowerBoundPerHour} exceeds costPerHour ${placement.costPerHour}`,
    );
  }
  return violations;
}
