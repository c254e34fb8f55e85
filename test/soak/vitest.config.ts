import { defineConfig } from "vitest/config";

// `npm run soak`: minutes of load, kept out of `npm test` (a smoke of it runs there instead).
export default defineConfig({
	test: { include: ["test/soak/**/*.test.ts"], environment: "node", testTimeout: 900_000, hookTimeout: 120_000 },
});
