import type { PipelineInputJson } from '../../src/pipeline/input';

type CatalogEntry = NonNullable<PipelineInputJson['catalog']>[number];

/** The one-device CPU instance the small end-to-end and input tests pack onto. */
export const C5_XLARGE: CatalogEntry = {
  name: 'c5.xlarge',
  processor: 'cpu',
  pricePerHour: 0.17,
  devices: 1,
  device: { memoryGiB: 8, compute: 1 },
};
