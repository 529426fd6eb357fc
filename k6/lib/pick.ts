import type { Route, RoutingTable } from './routing.ts';

/** A uniformly random route: a random model, hence a random server (the post's random test). */
export function randomRoute(table: RoutingTable): Route {
  return table.routes[Math.floor(Math.random() * table.routes.length)];
}
