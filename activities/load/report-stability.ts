import { type StepResult, type StepStability, unstableLine } from '../../src/domain/load-sweep';
import { esc, fmt } from './html';

/**
 * The report's view of how each load step settled: its windows, their spread and whether they agreed
 * (src/domain/stability.ts). Steps measured in one piece (no windows) show as such.
 */

/** report.json: the rule the steps were judged by, and which steps never settled. */
export interface StabilitySummary {
  rule: StepStability | null;
  unstableSteps: number[];
}

export function stabilitySummary(steps: StepResult[], rule: StepStability | undefined): StabilitySummary {
  return { rule: rule ?? null, unstableSteps: steps.filter((s) => s.stable === false).map((s) => s.index) };
}

/** The report.html section: one row per step, its windows as achieved req/s @ P90 ms. */
export function stabilityHtml(steps: StepResult[], rule: StepStability | undefined): string {
  const rows = steps
    .map((s) => {
      const windows = s.windows ?? [];
      const judged = new Set(windows.slice(-(rule?.rule.windows ?? 3)).map((w) => w.index));
      const cells = windows
        .map((w) => {
          const text = `${fmt(w.achievedRate)} @ ${fmt(w.p90Ms)}`;
          return judged.has(w.index) ? `<b>${text}</b>` : text;
        })
        .join(' · ');
      const seconds = windows.reduce((a, w) => a + w.seconds, 0);
      const spread = s.spread ? `±${fmt(s.spread.throughput * 100)}% · ±${fmt(s.spread.p90Ms)} ms` : '—';
      const settled = s.stable === undefined ? 'one piece' : s.stable ? 'stable' : '<b>unstable</b>';
      return `<tr${s.stable === false ? ' class="unstable"' : ''}><td>${s.index}</td><td>${fmt(s.offeredRate, 2)}</td><td>${windows.length} (${fmt(seconds)} s)</td><td>${cells || '—'}</td><td>${spread}</td><td>${settled}</td></tr>`;
    })
    .join('\n');
  const ruleText = rule
    ? `Each step offers its rate in ${fmt(rule.windowSeconds, 2)} s windows until its last ${rule.rule.windows} agree — achieved throughput within ±${fmt(rule.rule.throughputTolerance * 100, 0)}% of their mean, P90 within ±${fmt(rule.rule.p90Tolerance * 100, 0)}% or ±${fmt(rule.rule.p90FloorMs)} ms — or its last ${rule.rule.windows} all miss the SLO, or ${rule.maxWindows} windows have passed. An unstable step is neither pass nor fail and never the knee.`
    : 'Steps were measured in one piece.';
  const unstable = unstableLine(steps);
  return `<h2>Step stability</h2>
<p>${esc(ruleText)}${unstable ? ` <b>${esc(unstable)}.</b>` : ''} Windows as achieved req/s @ P90 ms; the judged ones in bold.</p>
<table><tr><th>step</th><th>offered (req/s)</th><th>windows</th><th>per window</th><th>spread (throughput · P90)</th><th>settled</th></tr>
${rows}</table>`;
}
