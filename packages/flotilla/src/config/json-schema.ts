import { z } from "zod";
import { configSchema } from "./schema.ts";

/** The editor JSON Schema, generated from the same zod schema that validates (STYLE 10). */
export function configJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(configSchema, { io: "input" }), title: "flotilla.config.json" };
}
