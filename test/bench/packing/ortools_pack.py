"""The peer solver for the packing benchmark: OR-Tools CP-SAT on the same PackingProblem, same budget.

Reads {"problem": PackingProblem, "timeLimitSec": s} on stdin, prints {"cost": c | null, "seconds": s}.
Demands are scaled to integers rounding up and capacities rounding down, so what it finds is feasible.
"""

import json
import math
import sys
import time

from ortools.sat.python import cp_model

SCALE = 10_000


def main() -> None:
    started = time.time()
    req = json.load(sys.stdin)
    prob, limit = req["problem"], req["timeLimitSec"]
    mem_frac = prob.get("limits", {}).get("memoryFraction", 0.925)
    cpu_frac = prob.get("limits", {}).get("computeFraction", 0.83)
    types = prob["instanceTypes"]
    models = prob["models"]
    upper = req.get("upperBoundCost")
    m = cp_model.CpModel()
    assign = {i: [] for i in range(len(models))}
    cost_terms = []
    for t, ty in enumerate(types):
        cap_m = math.floor(ty["device"]["memoryGiB"] * mem_frac * SCALE)
        cap_c = math.floor(ty["device"]["compute"] * cpu_frac * SCALE)
        cap_h = math.floor(ty["hostMemoryGiB"] * SCALE) if "hostMemoryGiB" in ty else None
        runnable = [i for i, md in enumerate(models) if ty["processor"] in md["demands"]]
        if not runnable:
            continue
        count = min(len(runnable), ty.get("available", len(runnable)))
        if upper is not None:
            count = min(count, int(upper // ty["pricePerHour"]))
        prev = None
        for j in range(count):
            z = m.new_bool_var(f"z{t}_{j}")
            cost_terms.append((z, round(ty["pricePerHour"] * 1000)))
            if prev is not None:
                m.add_implication(z, prev)
            prev = z
            host_terms = []
            for d in range(ty["devices"]):
                mem_terms, cpu_terms = [], []
                for i in runnable:
                    dem = models[i]["demands"][ty["processor"]]
                    x = m.new_bool_var(f"x{i}_{t}_{j}_{d}")
                    m.add_implication(x, z)
                    assign[i].append(x)
                    mem_terms.append(math.ceil(dem["memoryGiB"] * SCALE) * x)
                    cpu_terms.append(math.ceil(dem["compute"] * SCALE) * x)
                    host_terms.append(math.ceil(dem.get("hostMemoryGiB", 0) * SCALE) * x)
                m.add(sum(mem_terms) <= cap_m)
                m.add(sum(cpu_terms) <= cap_c)
            if cap_h is not None:
                m.add(sum(host_terms) <= cap_h)
    for i, xs in assign.items():
        if xs:
            m.add_exactly_one(xs)
    m.minimize(sum(c * z for z, c in cost_terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, limit - (time.time() - started))
    solver.parameters.num_workers = 2
    status = solver.solve(m)
    cost = solver.objective_value / 1000 if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    print(json.dumps({"cost": cost, "seconds": time.time() - started, "optimal": status == cp_model.OPTIMAL}))


if __name__ == "__main__":
    main()
