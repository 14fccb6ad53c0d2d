// A node:test reporter that adds the suite's closing line, `wasm-node: N passed, N failed`,
// counting the tests (not the files nor the suites) that passed and failed.
export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  for await (const event of source) {
    const data = event.data ?? {};
    const isTest = data.details?.type !== "suite" && !(data.file && data.name === data.file);
    if (event.type === "test:pass" && isTest && !data.skip && !data.todo) passed++;
    if (event.type === "test:fail" && isTest) failed++;
  }
  yield `wasm-node: ${passed} passed, ${failed} failed\n`;
}
