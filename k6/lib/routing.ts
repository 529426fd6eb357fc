/**
 * The routing table the deploy stage publishes: which server holds which model.
 * A request for a model goes to `${url}/predictions/${modelId}`.
 */
export interface Route {
  modelId: string;
  url: string;
}

export interface RoutingTable {
  routes: Route[];
}

/** Reads the table named by ROUTING_TABLE (a JSON file path); k6's open() runs only in the init stage. */
export function loadRoutingTable(path: string | undefined): RoutingTable {
  if (!path) throw new Error('ROUTING_TABLE must name a routing table JSON file');
  const table = JSON.parse(open(path)) as RoutingTable;
  if (!Array.isArray(table.routes) || table.routes.length === 0) {
    throw new Error(`routing table ${path} has no routes`);
  }
  return table;
}

export function predictionUrl(route: Route, query: Record<string, string>): string {
  const params = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return `${route.url}/predictions/${encodeURIComponent(route.modelId)}${params ? `?${params}` : ''}`;
}
