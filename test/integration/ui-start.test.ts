import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectPaths } from '../../src/config/paths';
import type { PipelineResult } from '../../src/domain/pipeline';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import type { PipelineInputJson } from '../../src/pipeline/input';
import { killServers, recordedServers } from '../support/fleet-state';
import { OwnStack } from '../support/own-stack';

/** Debian's Chromium; as root it only starts without its sandbox. */
const CHROMIUM = process.env.STOWAGE_CHROMIUM ?? '/usr/bin/chromium';
const EXAMPLE = path.join(projectPaths().root, 'examples', 'pipeline.local.json');

/**
 * A user's start from the real Temporal Web UI: a headless Chromium fills the Start Workflow form of a
 * dev server that runs WITH its UI (the shared stack is headless), pastes the example input, submits it,
 * and watches the run's page until it shows Completed. On failure the message names a screenshot.
 */
describe('Temporal Web UI: start a pipeline from the Start Workflow form', function () {
  this.timeout(600_000);
  let stack: OwnStack;
  let browser: Browser;
  let page: Page;
  const workflowId = 'ui-started-pipeline';

  before(async () => {
    stack = await OwnStack.start({ name: 'ui', ui: true });
    stack.startTsWorker();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });

  after(async () => {
    await browser?.close();
    if (!stack) return;
    killServers(recordedServers(stack.paths.state, workflowId));
    await stack.stop();
  });

  /** The example input, cut to 2 models whose sources exist in this stack's artifact root. */
  async function exampleInput(): Promise<PipelineInputJson> {
    const example = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8')) as PipelineInputJson;
    assert.ok(Array.isArray(example.models));
    const sources = await makeTinyModels(stack.paths, {
      out: path.join(stack.paths.artifacts, 'sources'),
      count: 2,
    });
    return {
      ...example,
      models: example.models.slice(0, 2).map((m, i) => ({ ...m, source: sources[i] })),
      loadTest: { ...example.loadTest, stepSeconds: 2, maxSteps: 2 },
    };
  }

  /** Runs one step of the scenario; a failing step leaves a screenshot and names it. */
  async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      const shot = path.join(os.tmpdir(), `stowage-ui-${name.replace(/\W+/g, '-')}-${Date.now()}.png`);
      await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
      throw new Error(`UI step "${name}" failed (screenshot: ${shot}): ${(err as Error).message}`);
    }
  }

  it('fills the form with the example JSON, submits, and sees the run reach Completed', async () => {
    const input = await exampleInput();

    await step('open the Start Workflow form from the workflow list', async () => {
      await page.goto(`${stack.uiUrl}/namespaces/default/workflows`);
      await page.locator('a[href*="/workflows/start-workflow"]', { hasText: 'Start Workflow' }).click();
      await page.locator('#workflowId').waitFor({ timeout: 60_000 });
    });

    await step('fill and submit the form', async () => {
      await page.locator('#workflowId').fill(workflowId);
      await page.locator('#taskQueue').fill(STOWAGE_TASK_QUEUE);
      await page.locator('#workflowType').fill('pipeline');
      // The input editor is CodeMirror: typed text would get auto-closed brackets, inserted text does not.
      await page.locator('[role=textbox][contenteditable=true]').first().click();
      await page.keyboard.insertText(JSON.stringify(input, null, 2));
      await page.getByTestId('start-workflow-button').click();
      await page.getByText('Workflow started successfully').waitFor({ timeout: 60_000 });
    });

    // What the UI sent is what the workflow got: the pasted JSON, as one json/plain object.
    const handle = stack.client.workflow.getHandle(workflowId);
    const started = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
    assert.equal(started?.workflowType?.name, 'pipeline');
    assert.equal(started?.taskQueue?.name, STOWAGE_TASK_QUEUE);
    const payload = started?.input?.payloads?.[0];
    assert.equal(Buffer.from(payload?.metadata?.encoding ?? []).toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(payload?.data ?? []).toString()), input);

    await step('watch the run page until Completed', async () => {
      await page.goto(`${stack.uiUrl}/namespaces/default/workflows/${workflowId}`);
      const status = (text: string) => page.locator('header').getByText(text, { exact: true });
      for (;;) {
        if (await status('Completed').isVisible()) break;
        for (const bad of ['Failed', 'Terminated', 'Canceled', 'Timed Out']) {
          if (await status(bad).isVisible()) throw new Error(`the run page shows ${bad}`);
        }
        await page.waitForTimeout(3000);
        await page.reload();
        await page.locator('[data-testid="workflow-id-heading"]').waitFor({ timeout: 60_000 });
      }
    });

    const result = (await handle.result()) as PipelineResult;
    assert.equal(result.modelsServed, 2);
  });
});
