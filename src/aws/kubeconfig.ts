import {
  type Cluster,
  DescribeClusterCommand,
  type EKSClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-eks';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { eksToken } from './eks-token';

export class EksClusterError extends Error {
  override name = 'EksClusterError';
}

/**
 * A KubeConfig for one cluster from its EKS description: the API server's endpoint, its CA, and a bearer
 * token as `aws eks get-token` makes it, so no kubectl, aws CLI or exec plugin is needed on the worker.
 */
export function kubeConfigFromCluster(cluster: Cluster, token: string): KubeConfig {
  const name = cluster.name ?? 'eks';
  if (cluster.status && cluster.status !== 'ACTIVE') {
    throw new EksClusterError(
      `EKS cluster ${name} is ${cluster.status}, not ACTIVE: its API server cannot be used yet`,
    );
  }
  if (!cluster.endpoint || !cluster.certificateAuthority?.data) {
    throw new EksClusterError(
      `EKS cluster ${name} has no API endpoint or certificate authority in its description`,
    );
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      { name, server: cluster.endpoint, caData: cluster.certificateAuthority.data, skipTLSVerify: false },
    ],
    users: [{ name, token }],
    contexts: [{ name, cluster: name, user: name }],
    currentContext: name,
  });
  return kubeConfig;
}

export interface EksKubeConfigInput {
  eks: EKSClient;
  clusterName: string;
  /** Default: the EKS client's own region and credentials, so the token is signed by the same identity. */
  region?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** The clock tokens are signed and refreshed by (default Date.now; tests move it). */
  now?: () => number;
}

export async function describeCluster(eks: EKSClient, clusterName: string): Promise<Cluster> {
  try {
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: clusterName }));
    if (!cluster) throw new EksClusterError(`EKS returned no description for cluster ${clusterName}`);
    return cluster;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) {
      throw new EksClusterError(
        `EKS cluster ${clusterName} does not exist in ${await eks.config.region()} (or these credentials cannot see it)`,
      );
    }
    throw err;
  }
}

/** The KubeConfig and when its token must be replaced (tokens live 15 minutes). */
export async function eksKubeConfig(
  input: EksKubeConfigInput,
): Promise<{ kubeConfig: KubeConfig; expiresAt: Date }> {
  const cluster = await describeCluster(input.eks, input.clusterName);
  const { token, expiresAt } = await eksToken({
    clusterName: input.clusterName,
    region: input.region ?? (await input.eks.config.region()),
    credentials: input.credentials ?? input.eks.config.credentials,
    now: input.now ? new Date(input.now()) : undefined,
  });
  return { kubeConfig: kubeConfigFromCluster(cluster, token), expiresAt };
}

/**
 * The cluster's KubeConfig, made afresh shortly before its token expires (a long wait outlives one token):
 * fits activities/kubernetes/client.ts KubernetesDeps.kubeConfig.
 */
export function eksKubeConfigSource(input: EksKubeConfigInput): () => Promise<KubeConfig> {
  let current: { kubeConfig: KubeConfig; expiresAt: Date } | undefined;
  return async () => {
    const now = input.now ?? Date.now;
    if (!current || current.expiresAt.getTime() - now() < 60_000) current = await eksKubeConfig(input);
    return current.kubeConfig;
  };
}

/** A CoreV1Api for the cluster with the same token refresh. */
export function eksCoreApi(input: EksKubeConfigInput): () => Promise<CoreV1Api> {
  const source = eksKubeConfigSource(input);
  let last: { kubeConfig: KubeConfig; api: CoreV1Api } | undefined;
  return async () => {
    const kubeConfig = await source();
    if (last?.kubeConfig !== kubeConfig) last = { kubeConfig, api: kubeConfig.makeApiClient(CoreV1Api) };
    return last.api;
  };
}
