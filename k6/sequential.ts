import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import type { Options } from 'k6/options';
import { loadRoutingTable, predictionUrl } from './lib/routing.ts';
import { sampleQuery, transport } from './lib/options.ts';

/** Best-case latency: each model in turn, one request at a time (the post's sequential test). */
const table = loadRoutingTable(__ENV.ROUTING_TABLE);

export const options: Options = {
  ...transport,
  scenarios: {
    sequential: {
      executor: 'shared-iterations',
      vus: 1,
      iterations: table.routes.length,
      maxDuration: '10m',
    },
  },
  thresholds: { checks: ['rate==1'] },
};

export default function (): void {
  const route = table.routes[exec.scenario.iterationInTest];
  const response = http.get(predictionUrl(route, sampleQuery), { tags: { model: route.modelId } });
  check(response, { 'status is 200': (r) => r.status === 200 });
}
