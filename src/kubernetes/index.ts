export * from './diff';
export * from './labels';
export * from './manifests';
export * from './names';
export * from './rollout';
