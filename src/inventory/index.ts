import { createHash } from 'node:crypto';
import type { ArtifactStore } from '../artifacts/store';
import { assertArtifactKey, InvalidArtifactKeyError } from '../artifacts/keys';
import { ConfigError } from '../config/temporal';
import { describeProblems, ModelManifestSchema, ModelSpecSchema, type ModelSpec } from '../pipeline/input';

/**
 * The model inventory: the list of models the fleet should serve, kept as a model manifest artifact
 * (ModelManifestSchema, default `inventory/models.json`) so that `pipeline` and `repack` both read it by
 * reference. The CLI and the API edit it only through this module: every edit is validated whole
 * (entries, duplicate ids) before the store's atomic write replaces the file.
 */

export const DEFAULT_INVENTORY_KEY = 'inventory/models.json';

export class InventoryError extends ConfigError {
  override name = 'InventoryError';
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length > 0 ? `${message}:\n${problems.join('\n')}` : message);
  }
}

/** An id that is already in the inventory (the API answers 409). */
export class ModelExistsError extends InventoryError {
  override name = 'ModelExistsError';
}

/** An id that is not in the inventory (the API answers 404). */
export class ModelNotFoundError extends InventoryError {
  override name = 'ModelNotFoundError';
}

export interface Inventory {
  key: string;
  models: ModelSpec[];
  /** sha256 of the canonical model list: repack compares it to see whether the inventory changed. */
  sha256: string;
}

/** sha256 over the models in id order: the same set of models gives the same hash whatever the file's layout. */
export function inventoryHash(models: ModelSpec[]): string {
  const canonical = [...models]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((m) => ({ id: m.id, source: m.source, trace: m.trace ?? null }));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** Every problem of a manifest document, or none; the list of models when it is valid. */
export function parseInventory(
  raw: unknown,
): { ok: true; models: ModelSpec[] } | { ok: false; problems: string[] } {
  const parsed = ModelManifestSchema.safeParse(raw);
  const problems = parsed.success ? [] : describeProblems(parsed.error);
  const seen = new Map<string, number>();
  for (const [i, m] of (parsed.success ? parsed.data.models : []).entries()) {
    const first = seen.get(m.id);
    if (first !== undefined) problems.push(`/models/${i}/id: duplicate of models[${first}].id "${m.id}"`);
    else seen.set(m.id, i);
  }
  return parsed.success && problems.length === 0
    ? { ok: true, models: parsed.data.models }
    : { ok: false, problems };
}

function checkedKey(key: string): string {
  try {
    return assertArtifactKey(key);
  } catch (err) {
    if (err instanceof InvalidArtifactKeyError) throw new InventoryError(err.message);
    throw err;
  }
}

/** The inventory at `key`; `null` when there is none yet. */
export async function readInventory(
  store: ArtifactStore,
  key = DEFAULT_INVENTORY_KEY,
): Promise<Inventory | null> {
  checkedKey(key);
  if (!(await store.exists(key))) return null;
  const bytes = await store.read(key);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InventoryError(`the inventory ${key} is not JSON`);
  }
  const parsed = parseInventory(raw);
  if (!parsed.ok) throw new InventoryError(`the inventory ${key} is invalid`, parsed.problems);
  return { key, models: parsed.models, sha256: inventoryHash(parsed.models) };
}

async function writeInventory(store: ArtifactStore, key: string, models: ModelSpec[]): Promise<Inventory> {
  const parsed = parseInventory({ models });
  if (!parsed.ok) throw new InventoryError(`the edit would leave ${key} invalid`, parsed.problems);
  await store.writeJson(key, { models });
  return { key, models, sha256: inventoryHash(models) };
}

/**
 * Edits of one inventory run one after another within a process (the API server takes concurrent
 * requests): each reads what the previous one wrote, so none is lost. Across processes (the CLI next to
 * the API) the last writer wins; the store's atomic rename still means nobody reads half a file.
 */
const editing = new Map<string, Promise<unknown>>();

function oneAtATime<T>(store: ArtifactStore, key: string, edit: () => Promise<T>): Promise<T> {
  const id = `${store.root}\0${key}`;
  const next = (editing.get(id) ?? Promise.resolve()).catch(() => undefined).then(edit);
  editing.set(id, next);
  void next
    .finally(() => {
      if (editing.get(id) === next) editing.delete(id);
    })
    .catch(() => undefined);
  return next;
}

/** Adds one model; refuses a bad entry or an id already listed, and then writes nothing. */
export async function addModel(
  store: ArtifactStore,
  spec: unknown,
  key = DEFAULT_INVENTORY_KEY,
): Promise<Inventory> {
  checkedKey(key);
  const parsed = ModelSpecSchema.safeParse(spec);
  if (!parsed.success) throw new InventoryError('invalid model', describeProblems(parsed.error));
  const model = parsed.data;
  return oneAtATime(store, key, async () => {
    const current = (await readInventory(store, key))?.models ?? [];
    if (current.some((m) => m.id === model.id)) {
      throw new ModelExistsError(`model "${model.id}" is already in the inventory ${key}`);
    }
    return writeInventory(store, key, [...current, model]);
  });
}

/**
 * Removes one model. The last one stays: an empty inventory is not a valid manifest, and a schedule
 * that found one would have nothing to serve.
 */
export async function removeModel(
  store: ArtifactStore,
  id: string,
  key = DEFAULT_INVENTORY_KEY,
): Promise<Inventory> {
  checkedKey(key);
  return oneAtATime(store, key, async () => {
    const current = (await readInventory(store, key))?.models ?? [];
    if (!current.some((m) => m.id === id)) {
      throw new ModelNotFoundError(`model ${JSON.stringify(id)} is not in the inventory ${key}`);
    }
    if (current.length === 1) {
      throw new InventoryError(`"${id}" is the last model of ${key}: an inventory lists at least one model`);
    }
    return writeInventory(
      store,
      key,
      current.filter((m) => m.id !== id),
    );
  });
}
