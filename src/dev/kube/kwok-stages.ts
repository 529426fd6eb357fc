/**
 * kwok's behaviour, spelled out here rather than taken from kwok's defaults (the standalone binary has
 * none and would fetch nothing): what a fake kubelet does to the nodes and pods it manages. Each stage
 * matches objects by selector and patches their status (strategic merge: conditions merge by type).
 */

interface Stage {
  name: string;
  kind: 'Node' | 'Pod';
  match: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
  statusTemplate?: string;
  delete?: boolean;
}

const notDeleted = { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' } as const;

const STAGES: Stage[] = [
  {
    // A new node reports Ready with the capacity it was created with (the node group's instance type).
    name: 'node-ready',
    kind: 'Node',
    match: [
      {
        key: '.status.conditions.[] | select( .type == "Ready" ) | .status',
        operator: 'NotIn',
        values: ['True'],
      },
    ],
    statusTemplate: `
{{ $now := Now | Quote }}
conditions:
{{ range $type := list "MemoryPressure" "DiskPressure" "PIDPressure" "NetworkUnavailable" }}
- type: {{ $type }}
  status: "False"
  reason: KubeletHasSufficientResources
  lastHeartbeatTime: {{ $now }}
  lastTransitionTime: {{ $now }}
{{ end }}
- type: Ready
  status: "True"
  reason: KubeletReady
  message: kwok simulates this node's kubelet
  lastHeartbeatTime: {{ $now }}
  lastTransitionTime: {{ $now }}
addresses:
- type: InternalIP
  address: {{ NodeIP | Quote }}
- type: Hostname
  address: {{ NodeName | Quote }}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
  kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
  containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
  kernelVersion: {{ printf "kwok-%s" Version | Quote }}
  osImage: kwok
  machineID: ""
  systemUUID: ""
  bootID: ""
phase: Running
`,
  },
  {
    // A scheduled pod starts at once: every container running, the pod Ready (readiness probes are not run).
    name: 'pod-ready',
    kind: 'Pod',
    match: [
      notDeleted,
      { key: '.spec.nodeName', operator: 'Exists' },
      { key: '.status.phase', operator: 'In', values: ['Pending'] },
    ],
    statusTemplate: `
{{ $now := Now | Quote }}
phase: Running
startTime: {{ $now }}
conditions:
{{ range $type := list "PodReadyToStartContainers" "Initialized" "ContainersReady" "Ready" }}
- type: {{ $type }}
  status: "True"
  lastTransitionTime: {{ $now }}
{{ end }}
{{ range .spec.readinessGates }}
- type: {{ .conditionType | Quote }}
  status: "True"
  lastTransitionTime: {{ $now }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now }}
{{ end }}
{{ with NodeIPsWith .spec.nodeName }}
hostIP: {{ index . 0 | Quote }}
{{ end }}
{{ with PodIPsWith .spec.nodeName (or .spec.hostNetwork false) (or .metadata.uid "") (or .metadata.name "") (or .metadata.namespace "") }}
podIP: {{ index . 0 | Quote }}
podIPs:
{{ range . }}
- ip: {{ . | Quote }}
{{ end }}
{{ end }}
`,
  },
  {
    // A Job's pod succeeds once running, so Jobs complete (their work is not simulated).
    name: 'job-pod-succeeds',
    kind: 'Pod',
    match: [
      notDeleted,
      { key: '.status.phase', operator: 'In', values: ['Running'] },
      { key: '.metadata.ownerReferences.[].kind', operator: 'In', values: ['Job'] },
    ],
    statusTemplate: `
{{ $now := Now | Quote }}
phase: Succeeded
conditions:
{{ range $type := list "ContainersReady" "Ready" }}
- type: {{ $type }}
  status: "False"
  reason: PodCompleted
  lastTransitionTime: {{ $now }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: 0
      reason: Completed
      startedAt: {{ $now }}
      finishedAt: {{ $now }}
{{ end }}
`,
  },
  {
    // A deleted pod is gone as soon as its kubelet would have stopped it.
    name: 'pod-deleted',
    kind: 'Pod',
    match: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }],
    delete: true,
  },
];

/** The stages as kwok configuration documents (JSON is YAML; documents separated by ---). */
export function kwokStagesConfig(): string {
  return STAGES.map((stage) =>
    JSON.stringify({
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Stage',
      metadata: { name: stage.name },
      spec: {
        resourceRef: { apiGroup: 'v1', kind: stage.kind },
        selector: { matchExpressions: stage.match },
        next: stage.delete ? { delete: true } : { statusTemplate: stage.statusTemplate!.trimStart() },
      },
    }),
  ).join('\n---\n');
}
