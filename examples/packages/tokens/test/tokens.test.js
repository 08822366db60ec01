import assert from "node:assert/strict";
import test from "node:test";
import { spacing } from "../src/index.js";

test("spacing starts at zero", () => assert.equal(spacing[0], 0));
