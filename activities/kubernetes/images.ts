import { ECRClient } from '@aws-sdk/client-ecr';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ZodError } from 'zod';
import type { ProjectPaths } from '../../src/config/paths';
import { BuildahFailed, buildahConfigFromEnv, ImageToolMissing } from '../../src/images/buildah';
import { BuildContextError } from '../../src/images/context';
import { registryCredentials } from '../../src/images/credentials';
import { EcrCredentials } from '../../src/images/ecr';
import { RegistryRefused } from '../../src/images/registry';
import {
  buildServerImage,
  type ImageBuildSettings,
  type ServerImage,
  serverImageRequestSchema,
  serverImageSources,
} from '../../src/images/server-image';
import { HEARTBEAT_EVERY_MS } from '../heartbeat';
import { FailureType } from '../../src/domain/failures';

export type BuildServerImageInput = {
  processor: 'cpu' | 'gpu' | 'inf';
  registry: string;
  repository: string;
  base: string;
};
export type BuildServerImageResult = Pick<ServerImage, 'image' | 'digest' | 'built'> & { tag: string };

/**
 * Image settings from the worker's environment: buildah's STOWAGE_BUILDAH* settings, push credentials
 * (STOWAGE_REGISTRY_*; Amazon ECR registries through GetAuthorizationToken with the SDK's default
 * credential chain, unless `ecr` says otherwise), and STOWAGE_INSECURE_REGISTRIES, a comma list of
 * registries spoken to over plain HTTP. Nothing talks to AWS until an ECR registry is used.
 */
export function imageSettingsFromEnv(
  paths: ProjectPaths,
  options: { env?: NodeJS.ProcessEnv; ecr?: EcrCredentials } = {},
): ImageBuildSettings {
  const env = options.env ?? process.env;
  const ecr = options.ecr ?? new EcrCredentials((region) => new ECRClient({ region }));
  return {
    buildah: buildahConfigFromEnv(env),
    credentials: registryCredentials({ env, ecr }),
    insecureRegistries: (env.STOWAGE_INSECURE_REGISTRIES ?? '')
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean),
    server: serverImageSources(paths),
  };
}

/** Errors a retry cannot fix become non-retryable failures with a type the workflow can branch on. */
export function imageFailure(err: unknown): unknown {
  if (err instanceof ZodError) {
    return ApplicationFailure.nonRetryable(
      `invalid buildServerImage input: ${err.issues.map((i) => `/${i.path.join('/')}: ${i.message}`).join('; ')}`,
      FailureType.InvalidImageRequest,
    );
  }
  if (err instanceof RegistryRefused) {
    return ApplicationFailure.nonRetryable(err.message, FailureType.RegistryRefused, {
      registryMessage: err.registryMessage,
    });
  }
  if (err instanceof ImageToolMissing)
    return ApplicationFailure.nonRetryable(err.message, FailureType.ImageToolMissing);
  if (err instanceof BuildContextError)
    return ApplicationFailure.nonRetryable(err.message, FailureType.BuildContextInvalid);
  // A failed build may be a base that could not be pulled this time: retried, within the caller's policy.
  if (err instanceof BuildahFailed)
    return ApplicationFailure.retryable(err.message, FailureType.BuildahFailed);
  return err;
}

export function createImageActivities(settings: ImageBuildSettings) {
  return {
    /**
     * The model-server image for a processor in `<registry>/<repository>:sha-<context hash>`; unchanged
     * sources on an unchanged base are never rebuilt (built: false).
     */
    async buildServerImage(input: BuildServerImageInput): Promise<BuildServerImageResult> {
      const ctx = Context.current();
      let phase = 'context';
      let tag: string | undefined;
      let lastLine = '';
      const beat = () => ctx.heartbeat({ phase, tag, lastLine: lastLine.slice(0, 200) });
      // Heartbeats while buildah is quiet too (a base layer copy can take minutes without a line of output).
      const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
      try {
        const request = serverImageRequestSchema.parse(input);
        const image = await buildServerImage(settings, request, {
          signal: ctx.cancellationSignal,
          onPhase: (next, detail) => {
            phase = next;
            tag = detail.tag;
            beat();
          },
          onLine: (line) => {
            lastLine = line;
          },
        });
        return { image: image.image, digest: image.digest, built: image.built, tag: image.tag };
      } catch (err) {
        throw imageFailure(err);
      } finally {
        clearInterval(timer);
      }
    },
  };
}
