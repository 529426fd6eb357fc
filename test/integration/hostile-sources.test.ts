import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { TokenSet } from '../../src/api/auth';
import { buildApiServer } from '../../src/api/server';
import { openArtifactStore } from '../../src/artifacts/store';
import { makeTinyModels } from '../../src/dev/tiny-models';
import { pythonPath } from '../../src/dev/tools';
import { STOWAGE_TASK_QUEUE } from '../../src/domain/task-queues';
import type { TraceModelsInput, TraceModelsResult } from '../../src/domain/tracing';
import { createLogger } from '../../src/logging';
import { newToken, request } from '../support/api-http';
import { runCli } from '../support/cli';
import { HOSTILE_SOURCES, unsafeIn } from '../support/hostile-text';
import { activityAttempts, eventsOf, scheduledActivities, startedChildren } from '../support/run-history';
import { testPaths, testStack, testStateDir } from '../support/stack';

/**
 * Hostile model sources at every edge, with real components: the HTTP API, the `stowage` CLI in its own
 * process, workflow starts straight through Temporal (as the UI or the official CLI would start them),
 * and the real Python tracer worker reading source folders whose files point out of the allowed roots.
 */
describe('hostile model sources (real API, CLI, Temporal and Python worker)', function () {
  this.timeout(300_000);
  const writeToken = newToken();
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    const stack = await testStack();
    app = buildApiServer({
      client: stack.client,
      artifacts: openArtifactStore(testPaths().artifacts),
      tokens: TokenSet.fromEntries([{ name: 'sources-writer', scope: 'write', token: writeToken }]),
      logger: createLogger({
        name: 'stowage-api-sources',
        file: path.join(testPaths().state, 'logs', 'api-sources-test.log'),
      }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await app?.close();
  });

  async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
    const err = await handle.result().then(
      () => assert.fail('the run must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure, String(err));
    return err.cause;
  }

  it('POST /v1/models: each hostile source is a 422 problem+json naming /source and the code point', async () => {
    const inventory = `inventory/hostile-${randomUUID().slice(0, 8)}.json`;
    for (const c of HOSTILE_SOURCES) {
      const res = await request(base, 'POST', `/v1/models?inventory=${inventory}`, {
        token: writeToken,
        body: { id: 'hostile', source: c.text },
      });
      assert.equal(res.status, 422, `${c.name}: ${res.text}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const errors = res.json.errors as { pointer: string; detail: string }[];
      assert.deepEqual(
        errors.map((e) => e.pointer),
        ['/source'],
        c.name,
      );
      assert.match(errors[0].detail, c.says, c.name);
      // Neither the bytes on the wire nor the decoded reply carry the character.
      assert.deepEqual(unsafeIn(res.text), [], `${c.name}: raw reply`);
      assert.deepEqual(unsafeIn(JSON.stringify(res.json)), [], `${c.name}: decoded reply`);
    }
    const hostileId = await request(base, 'POST', `/v1/models?inventory=${inventory}`, {
      token: writeToken,
      body: { id: 'a\u0000\u001b[2J', source: 'models/a' },
    });
    assert.equal(hostileId.status, 422, hostileId.text);
    assert.deepEqual(
      hostileId.json.errors.map((e: { pointer: string }) => e.pointer),
      ['/id'],
    );
    assert.deepEqual(unsafeIn(JSON.stringify(hostileId.json)), []);
    const file = path.join(testPaths().artifacts, ...inventory.split('/'));
    assert.equal(fs.existsSync(file), false, 'nothing was stored');
  });

  it('stowage models add: refused with the code point, nothing written (NUL and lone surrogates cannot even be argv)', async () => {
    const inventory = `inventory/hostile-cli-${randomUUID().slice(0, 8)}.json`;
    // execve strings end at NUL, and argv is UTF-8 in which a lone surrogate does not exist.
    const passable = HOSTILE_SOURCES.filter(
      (c) => !c.text.includes('\u0000') && !/[\ud800-\udfff]/u.test(c.text),
    );
    assert.ok(passable.length >= 5, passable.map((c) => c.name).join(', '));
    for (const c of [...passable, { name: 'NUL-free escapes', text: 'x\u001b[31mred', says: /U\+001B/ }]) {
      const result = await runCli(['models', 'add', 'm-x', c.text, '--inventory', inventory], {
        STOWAGE_STATE_DIR: testStateDir(),
      });
      assert.equal(result.code, 1, `${c.name}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /\/source: U\+/);
      assert.match(result.stderr, c.says);
      assert.deepEqual(unsafeIn(result.stderr.replace(/\n/g, '')), [], `${c.name}: echoed`);
    }
    assert.equal(fs.existsSync(path.join(testPaths().artifacts, ...inventory.split('/'))), false);
  });

  it('pipeline and traceModels started directly: a hostile source or name fails the first task, no activity', async () => {
    const { client } = await testStack();
    const starts: { type: string; input: unknown; says: RegExp }[] = [
      {
        type: 'pipeline',
        input: { models: [{ id: 'a', source: HOSTILE_SOURCES[2].text }] },
        says: /^\/models\/0\/source: U\+000A \(a control character\) at character 9/m,
      },
      {
        type: 'pipeline',
        input: { name: 'run\u202eeman', models: [{ id: 'a', source: 'sources/a' }] },
        says: /^\/name: must be lowercase letters/m,
      },
      {
        type: 'pipeline',
        input: { models: [{ id: 'a\u0000', source: 'sources/a' }] },
        says: /^\/models\/0\/id: must be lowercase letters/m,
      },
      {
        type: 'traceModels',
        input: { processor: 'cpu', models: [{ id: 'a', source: HOSTILE_SOURCES[1].text }] },
        says: /models\.0\.source: U\+D800 \(a lone surrogate\)/,
      },
    ];
    for (const s of starts) {
      const handle = await client.workflow.start(s.type, {
        taskQueue: STOWAGE_TASK_QUEUE,
        workflowId: `hostile-${randomUUID()}`,
        args: [s.input],
      });
      const failure = await failureOf(handle);
      assert.equal(failure.type, 'InvalidInput');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, s.says);
      assert.deepEqual(unsafeIn(failure.message.replace(/\n/g, '')), [], 'the failure echoes nothing');
      const events = await eventsOf(handle);
      assert.deepEqual(scheduledActivities(events), []);
      assert.deepEqual(startedChildren(events), []);
      assert.equal(events.filter((e) => e.workflowTaskCompletedEventAttributes).length, 1);
    }
  });

  describe('the Python worker checks every file of a source before opening any', () => {
    const sources = path.join(testPaths().artifacts, 'sources', 'hostile');
    let outside: string;
    let template: string;

    before(async () => {
      await testStack();
      outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-outside-')));
      [template] = await makeTinyModels(testPaths(), { out: sources, count: 1, prefix: 'template' });
    });

    after(() => {
      // Its links would dangle once `outside` goes, and other suites stat every file under the artifact root.
      fs.rmSync(sources, { recursive: true, force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    });

    function copyOf(name: string): string {
      const folder = path.join(sources, name);
      fs.cpSync(template, folder, { recursive: true });
      return folder;
    }

    /** A FIFO: a reader that opened it would block until a writer came, so a trace that did would hang. */
    async function fifo(file: string): Promise<string> {
      await promisify(execFile)('mkfifo', [file]);
      return file;
    }

    /** Whether anything holds `file` (a FIFO) open for reading: only then does a non-blocking writer open. */
    function heldOpen(file: string): boolean {
      try {
        fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
        return true;
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENXIO');
        return false;
      }
    }

    it('refuses links out of the roots and hostile pickles, once each, naming the file; traces the good model', async () => {
      const weights = copyOf('linked-weights');
      const weightsTarget = await fifo(path.join(outside, 'model.safetensors'));
      fs.rmSync(path.join(weights, 'model.safetensors'));
      fs.symlinkSync(weightsTarget, path.join(weights, 'model.safetensors'));

      const etc = copyOf('linked-etc');
      fs.symlinkSync('/etc', path.join(etc, 'etc'));

      const pickled = copyOf('hostile-pickle');
      const marker = path.join(outside, 'pwned');
      fs.rmSync(path.join(pickled, 'model.safetensors'));
      const script = [
        'import os, sys, torch',
        'class RunsCode:',
        '    def __reduce__(self): return (os.system, ("touch " + sys.argv[2],))',
        'torch.save({"qa_outputs.weight": RunsCode()}, sys.argv[1])',
      ].join('\n');
      await promisify(execFile)(pythonPath(testPaths()), [
        '-c',
        script,
        path.join(pickled, 'pytorch_model.bin'),
        marker,
      ]);

      const input: TraceModelsInput = {
        processor: 'cpu',
        models: [
          { id: 'linked-weights', source: weights },
          { id: 'linked-etc', source: etc },
          { id: 'hostile-pickle', source: pickled },
          { id: 'good', source: template },
        ].map((m) => ({ ...m, options: { sequenceLength: 16, profile: { iterations: 2, warmup: 0 } } })),
      };
      const { client } = await testStack();
      const handle = await client.workflow.start('traceModels', {
        taskQueue: STOWAGE_TASK_QUEUE,
        workflowId: `hostile-trace-${randomUUID()}`,
        args: [input],
      });
      const result = (await Promise.race([
        handle.result(),
        new Promise((resolve) => setTimeout(resolve, 120_000, 'timeout')),
      ])) as TraceModelsResult | 'timeout';
      const opened = heldOpen(weightsTarget); // also frees a reader stuck on it, so the run can end
      assert.equal(opened, false, 'the tracer opened a file outside the allowed roots');
      assert.notEqual(result, 'timeout', 'traceModels did not finish');
      if (result === 'timeout') return;

      assert.deepEqual(
        result.traced.map((t) => t.modelId),
        ['good'],
      );
      const failed = new Map(result.failed.map((f) => [f.modelId, f]));
      assert.equal(failed.get('linked-weights')?.type, 'InvalidInput');
      assert.match(
        failed.get('linked-weights')?.message ?? '',
        new RegExp(`model\\.safetensors is a symlink to ${weightsTarget}, outside the allowed roots`),
      );
      assert.equal(failed.get('linked-etc')?.type, 'InvalidInput');
      assert.match(
        failed.get('linked-etc')?.message ?? '',
        /etc is a symlink to \/etc, outside the allowed roots/,
      );
      assert.equal(failed.get('hostile-pickle')?.type, 'UnsupportedModel');
      assert.match(
        failed.get('hostile-pickle')?.message ?? '',
        /pytorch_model\.bin in .* was refused: it is a pickle that imports posix\.system/,
      );
      assert.equal(fs.existsSync(marker), false, 'the pickle ran code');
      // Non-retryable: every refused model was tried exactly once.
      assert.deepEqual(activityAttempts(await eventsOf(handle), 'traceModel').sort(), [1, 1, 1, 1]);
    });
  });
});
