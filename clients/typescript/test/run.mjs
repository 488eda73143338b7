// Runs the compiled tests (tsc puts them in dist/test) with Node's runner.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const dir = new URL("../dist/test/", import.meta.url).pathname;
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".test.js"))
  .sort()
  .map((f) => dir + f);
const { status } = spawnSync(process.execPath, ["--test", "--test-reporter=spec", "--test-concurrency=1", ...files], {
  stdio: "inherit",
});
process.exit(status ?? 1);
