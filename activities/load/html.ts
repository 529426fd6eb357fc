/** Text helpers of the report's HTML sections. */

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// Figures a runtime could not measure (simulated nodes) arrive as null or NaN: shown as a dash, never as "NaN".
export const fmt = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits);
