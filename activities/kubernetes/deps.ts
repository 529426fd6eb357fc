import { EKSClient } from '@aws-sdk/client-eks';
import { KubeConfig } from '@kubernetes/client-node';
import { eksKubeConfigSource } from '../../src/aws/kubeconfig';
import type { KubernetesDeps } from './client';

/**
 * The worker's cluster for the `kubernetes` runtime, from its environment (the worker, not the workflow
 * input, holds credentials): STOWAGE_KUBECONFIG names a kubeconfig file; otherwise STOWAGE_EKS_CLUSTER
 * names an EKS cluster whose kubeconfig is built from DescribeCluster with a token signed as
 * `aws eks get-token` signs it (refreshed before it expires). Neither: no cluster, and the Kubernetes
 * activities say so when called.
 */
export function kubernetesDepsFromEnv(env: NodeJS.ProcessEnv = process.env): KubernetesDeps | undefined {
  const file = env.STOWAGE_KUBECONFIG;
  if (file) {
    const config = new KubeConfig();
    config.loadFromFile(file);
    return { kubeConfig: config };
  }
  const cluster = env.STOWAGE_EKS_CLUSTER;
  if (cluster) return { kubeConfig: eksKubeConfigSource({ eks: new EKSClient({}), clusterName: cluster }) };
  return undefined;
}
