/**
 * Artifact keys are relative, slash-separated paths under the store's root (docs/artifacts.md).
 * They are checked strictly because they come from workflow inputs and end up as file paths or S3 keys.
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class InvalidArtifactKeyError extends Error {
  override name = 'InvalidArtifactKeyError';
}

export function assertArtifactKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new InvalidArtifactKeyError(`artifact key must be a non-empty string of at most 1024 characters`);
  }
  const bad = key.split('/').find((segment) => !SEGMENT.test(segment) || segment === '..' || segment === '.');
  if (bad !== undefined) {
    throw new InvalidArtifactKeyError(
      `artifact key ${JSON.stringify(key)} has an invalid segment ${JSON.stringify(bad)}: ` +
        'segments are letters, digits, ".", "_" or "-", start with a letter or digit, and never climb out of the root',
    );
  }
  return key;
}

export function isArtifactKey(key: string): boolean {
  try {
    assertArtifactKey(key);
    return true;
  } catch {
    return false;
  }
}

export const artifactKeys = {
  model: (modelId: string, processor: string, traceKey: string, file: string) =>
    assertArtifactKey(`models/${modelId}/${processor}/${traceKey}/${file}`),
  placement: (placementId: string) => assertArtifactKey(`placements/${placementId}.json`),
  run: (workflowId: string, file: string) => assertArtifactKey(`runs/${workflowId}/${file}`),
};
