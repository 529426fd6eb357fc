import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { ProjectPaths } from '../config/paths';
import { Buildah, type BuildahConfig } from './buildah';
import { resolveBuildContext, stageBuildContext } from './context';
import type { CredentialsFor } from './credentials';
import { imageReference, RegistryClient } from './registry';

/**
 * The model-server image for one processor: `images/server/Containerfile` on that processor's base,
 * tagged with the hash of its context and pushed to a registry. An image whose tag the registry already
 * has is never built again (not even started: no buildah run at all), and a push only counts once the
 * registry serves the manifest digest buildah pushed.
 */
const REGISTRY = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
// name[:tag][@sha256:...] with the registry part: no whitespace, no shell or flag look-alikes.
const IMAGE = /^[a-z0-9][a-z0-9._:/-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export const serverImageRequestSchema = z
  .object({
    processor: z.enum(['cpu', 'gpu', 'inf']),
    registry: z
      .string()
      .max(253)
      .regex(REGISTRY, 'a registry host[:port] such as 123456789012.dkr.ecr.us-east-1.amazonaws.com'),
    repository: z
      .string()
      .max(255)
      .regex(REPOSITORY, 'lowercase path components separated by "/", e.g. stowage/model-server'),
    base: z
      .string()
      .max(512)
      .regex(
        IMAGE,
        'an image reference with its registry, e.g. registry.example.com/stowage/base-cpu@sha256:...',
      ),
  })
  .strict();
export type ServerImageRequest = z.infer<typeof serverImageRequestSchema>;

export interface ServerImage {
  /** `<registry>/<repository>:<tag>`. */
  image: string;
  tag: string;
  /** The manifest digest in the registry. */
  digest: string;
  /** false: the registry already had this tag and nothing was built. */
  built: boolean;
}

export interface ImageBuildSettings {
  buildah: BuildahConfig;
  credentials: CredentialsFor;
  /** Registries spoken to over plain HTTP without TLS verification (a loopback test registry). */
  insecureRegistries: string[];
  /** The server image's Containerfile and the folder its COPY sources are relative to. */
  server: { containerfile: string; contextRoot: string };
  /** Told about every buildah invocation (argv without the binary). */
  onBuildahRun?: (args: string[]) => void;
}

export function serverImageSources(paths: ProjectPaths): ImageBuildSettings['server'] {
  return {
    containerfile: path.join(paths.root, 'images', 'server', 'Containerfile'),
    contextRoot: paths.pythonTracer,
  };
}

export type ImagePhase = 'context' | 'lookup' | 'build' | 'push' | 'verify';

export interface ImageProgress {
  signal?: AbortSignal;
  onPhase?: (phase: ImagePhase, detail: { tag: string }) => void;
  onLine?: (line: string) => void;
}

export async function buildServerImage(
  settings: ImageBuildSettings,
  request: ServerImageRequest,
  progress: ImageProgress = {},
): Promise<ServerImage> {
  const context = resolveBuildContext({
    containerfile: settings.server.containerfile,
    root: settings.server.contextRoot,
    base: request.base,
    buildArgs: { PROCESSOR: request.processor },
  });
  const { tag } = context;
  progress.onPhase?.('context', { tag });
  const image = imageReference(request.registry, request.repository, tag);
  const insecure = settings.insecureRegistries.includes(request.registry);
  const registry = new RegistryClient({
    registry: request.registry,
    insecure,
    credentials: () => settings.credentials(request.registry),
  });

  progress.onPhase?.('lookup', { tag });
  const existing = await registry.manifestDigest(request.repository, tag);
  if (existing) return { image, tag, digest: existing, built: false };

  const buildah = new Buildah(settings.buildah, settings.onBuildahRun);
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'stowage-image-'));
  try {
    const staged = stageBuildContext(context, staging);
    progress.onPhase?.('build', { tag });
    await buildah.build({
      contextDir: staged.contextDir,
      containerfile: staged.containerfile,
      tags: [image],
      buildArgs: context.buildArgs,
      signal: progress.signal,
      onLine: progress.onLine,
    });
    progress.onPhase?.('push', { tag });
    const digest = await buildah.push({
      image,
      destination: image,
      credentials: await settings.credentials(request.registry),
      tlsVerify: !insecure,
      signal: progress.signal,
      onLine: progress.onLine,
    });
    progress.onPhase?.('verify', { tag });
    const served = await registry.manifestDigest(request.repository, tag);
    if (served !== digest) {
      throw new Error(
        `${image} was pushed as ${digest} but the registry serves ${served ?? 'nothing'} under that tag`,
      );
    }
    return { image, tag, digest, built: true };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
