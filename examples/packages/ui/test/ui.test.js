import assert from "node:assert/strict";
import test from "node:test";
import { button } from "../src/index.js";

test("renders a button", () => assert.match(button("Buy"), /<button/));
