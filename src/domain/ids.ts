/**
 * Ids that may become file paths, artifact keys, Kubernetes names or workflow ids: one strict pattern
 * (a DNS label), checked at every edge, so nothing user-supplied is ever interpreted.
 */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const ID_RULE =
  'lowercase letters, digits and "-", starting with a letter or digit, at most 63 characters';
