import { ApplicationFailure } from '@temporalio/activity';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  type KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { FIELD_MANAGER, MANAGED_BY, MANAGER } from '../../src/kubernetes/labels';
import type { KubeObject } from '../../src/kubernetes/manifests';
import { FailureType } from '../../src/domain/failures';

/**
 * What the Kubernetes activities need: a client configuration for the cluster. Production builds it from
 * the EKS cluster description (src/aws); tests pass the harness cluster's admin kubeconfig.
 */
export interface KubernetesDeps {
  kubeConfig: KubeConfig | (() => KubeConfig | Promise<KubeConfig>);
}

export interface KubeClients {
  server: string;
  apps: AppsV1Api;
  core: CoreV1Api;
  batch: BatchV1Api;
  objects: KubernetesObjectApi;
}

export async function kubeClients(deps: KubernetesDeps | undefined): Promise<KubeClients> {
  if (!deps) {
    throw ApplicationFailure.nonRetryable(
      'this worker has no Kubernetes cluster configured (runtime "kubernetes" needs a kubeconfig)',
      FailureType.KubernetesNotConfigured,
    );
  }
  const config = typeof deps.kubeConfig === 'function' ? await deps.kubeConfig() : deps.kubeConfig;
  return {
    server: config.getCurrentCluster()?.server ?? '(no current cluster)',
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    batch: config.makeApiClient(BatchV1Api),
    objects: KubernetesObjectApi.makeApiClient(config),
  };
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

/** HTTP status of an API error, or undefined for anything else. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** The API server's own message ("deployments.apps \"x\" is forbidden: …") rather than a wrapper's. */
function apiMessage(err: ApiException<unknown>): string {
  const body = err.body;
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string };
    if (parsed?.message) return parsed.message;
  } catch {
    /* not JSON */
  }
  return err.message.split('\n')[0];
}

/**
 * Runs one cluster call and turns its failure into what a workflow can act on: an unreachable API server
 * names the server and stays retryable (the workflow's retry policy bounds it, and its last message is
 * the one the run fails with); a refusal (4xx other than 409/429) is not something a retry fixes.
 */
export async function kubeCall<T>(clients: KubeClients, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE.has(code)) {
      throw ApplicationFailure.retryable(
        `the Kubernetes API server ${clients.server} is unreachable (${code}) while trying to ${what}`,
        FailureType.KubernetesUnreachable,
      );
    }
    if (err instanceof ApiException) {
      const message = `Kubernetes refused to ${what}: ${err.code} ${apiMessage(err)}`;
      if (err.code >= 400 && err.code < 500 && err.code !== 409 && err.code !== 429) {
        throw ApplicationFailure.nonRetryable(message, FailureType.KubernetesRefused);
      }
      throw ApplicationFailure.retryable(message, FailureType.KubernetesError);
    }
    throw err;
  }
}

/** Server-side apply as field manager `stowage`, never forcing: another manager's fields stay theirs. */
export function apply(clients: KubeClients, object: KubeObject): Promise<KubeObject> {
  return kubeCall(
    clients,
    `apply ${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`,
    () =>
      clients.objects.patch(
        object,
        undefined,
        undefined,
        FIELD_MANAGER,
        false,
        PatchStrategy.ServerSideApply,
      ),
  ) as Promise<KubeObject>;
}

/** Creates the namespace when it is missing (labelled as ours); an existing one is left as it is. */
export async function ensureNamespace(clients: KubeClients, namespace: string): Promise<void> {
  const exists = await kubeCall(clients, `read namespace ${namespace}`, () =>
    clients.core.readNamespace({ name: namespace }).then(
      () => true,
      (err: unknown) => {
        if (statusOf(err) === 404) return false;
        throw err;
      },
    ),
  );
  if (!exists) {
    await apply(clients, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace, labels: { [MANAGED_BY]: MANAGER } },
    });
  }
}

/** Deletes an object; one that is already gone counts as deleted. */
export async function deleteIfPresent(
  clients: KubeClients,
  what: string,
  call: () => Promise<unknown>,
): Promise<boolean> {
  return kubeCall(clients, `delete ${what}`, () =>
    call().then(
      () => true,
      (err: unknown) => {
        if (statusOf(err) === 404) return false;
        throw err;
      },
    ),
  );
}
