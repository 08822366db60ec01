import { writeFileSync } from "node:fs";
import { configJsonSchema } from "../src/config/json-schema.ts";

writeFileSync(new URL("../schema/flotilla.config.schema.json", import.meta.url), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
