import assert from "node:assert/strict";
import test from "node:test";
import { formatPrice, notFound } from "../src/index.js";

test("formats cents", () => assert.equal(formatPrice(1250), "€12.50"));
test("not found is JSON", () => assert.equal(notFound("/x").body.error, "not_found"));
