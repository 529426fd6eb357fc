import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered on the embedded server by `stowage dev`; on other clusters by an operator (see README). */
export const StowageStage = defineSearchAttributeKey('StowageStage', SearchAttributeType.KEYWORD);
export const StowageRuntime = defineSearchAttributeKey('StowageRuntime', SearchAttributeType.KEYWORD);
export const StowageModelCount = defineSearchAttributeKey('StowageModelCount', SearchAttributeType.INT);
export const StowageCostPerHour = defineSearchAttributeKey('StowageCostPerHour', SearchAttributeType.DOUBLE);

export const STOWAGE_SEARCH_ATTRIBUTES = [
  StowageStage,
  StowageRuntime,
  StowageModelCount,
  StowageCostPerHour,
];
