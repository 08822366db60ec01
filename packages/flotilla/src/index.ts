export { main } from "./cli/main.ts";
export { type PlanOptions, planCommand } from "./commands/plan.ts";
export { FlotillaError, InputError, type Problem, ReleaseError } from "./errors.ts";
export { distTagFor, prereleaseChannel } from "./plan/dist-tag.ts";
export { imageTagsFor } from "./plan/image-tags.ts";
export { buildPlan, type Plan, type PlannedRelease } from "./plan/release-plan.ts";
