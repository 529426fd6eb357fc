/**
 * Kubernetes names for what Stowage creates. Pure and workflow-safe (no node:crypto): a server's name is
 * a function of its fleet, device type and model set only, so the same models on the same kind of device
 * keep the same name across placements — that is what lets a re-rollout leave them untouched.
 */

/** RFC 1123 label: what a Service name, a namespace and a label value (here) must be. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** RFC 1035 label: a Service name must also start with a letter. */
export const DNS_1035_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** RFC 1123 subdomain, for node group names and the like that Kubernetes accepts with dots. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/**
 * Server names stay within 47 characters: a Deployment's pod names add "-<10-char hash>-<5 chars>" and
 * pod host names must fit one 63-character label.
 */
export const MAX_SERVER_NAME = 47;
const HASH_LENGTH = 10;

/** FNV-1a, 64 bit: stable across processes and Node versions, enough to tell model sets apart. */
export function stableHash(text: string, length = HASH_LENGTH): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = 0xffffffffffffffffn;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & mask;
  }
  return hash.toString(36).padStart(13, '0').slice(-length);
}

/** Lowercase, runs of anything else as one "-", no "-" at the ends: "inf1.6xlarge" → "inf1-6xlarge". */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * A DNS-1035 label from readable parts, at most `max` characters, ending in a hash of the parts so
 * that truncation never makes two names equal. The first character is a letter ("s" is prefixed if not).
 */
export function boundedName(parts: string[], identity: string, max: number = MAX_SERVER_NAME): string {
  const hash = stableHash(identity);
  let readable = parts.map(slug).filter(Boolean).join('-');
  if (!/^[a-z]/.test(readable)) readable = `s-${readable}`;
  const room = max - HASH_LENGTH - 1;
  readable = readable.slice(0, room).replace(/-+$/, '');
  return `${readable}-${hash}`;
}

/** The model server holding `models` on one device of `instanceType`, in `fleet`. */
export function serverName(fleet: string, instanceType: string, models: readonly string[]): string {
  const sorted = [...models].sort();
  return boundedName(
    [fleet, instanceType, sorted[0] ?? 'empty'],
    [fleet, instanceType, ...sorted].join('\n'),
  );
}

/** The ConfigMap with a fleet's routing table (one per fleet, re-applied by every rollout). */
export function routingConfigMapName(fleet: string): string {
  return boundedName(['stowage-routing', fleet], `routing\n${fleet}`, 63);
}

/** A k6 Job (smoke test or load test) of one workflow run. */
export function jobName(kind: 'smoke' | 'load', runId: string, discriminator = ''): string {
  return boundedName([`k6-${kind}`], `${kind}\n${runId}\n${discriminator}`, 52);
}

/** Problems with a name as a DNS label, or [] when it is one. */
export function dnsLabelProblems(name: string): string[] {
  return DNS_LABEL.test(name)
    ? []
    : [
        `"${name}" must be lowercase letters, digits and "-", start and end with a letter or digit, at most 63`,
      ];
}
