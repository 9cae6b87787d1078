// Playwright globalSetup: seeds the Fictures fixture and writes the signed-in
// storage states (.auth/user.json and one per account) before the suite runs.
//
// playwright.config.ts:
//   globalSetup: "./global-setup.mjs",
//   use: { baseURL: process.env.BASE_URL ?? "http://localhost:3000",
//          storageState: ".auth/user.json" },
//
// Needs DATABASE_URL, REDIS_URL and AUTH_SECRET (the app's own, or
// `--env-file .env.local` below). FICTURES_SEED_BIN names the binary;
// without it, `fictures-seed` is looked up on PATH.
import { execFileSync } from "node:child_process";

export default async function globalSetup() {
  const bin = process.env.FICTURES_SEED_BIN || "fictures-seed";
  const baseUrl = process.env.BASE_URL || "http://localhost:3000";
  // --prune: rows an earlier run's tests created on fixture stories go too.
  const args = ["seed", "--prune", "--auth-out", ".auth", "--base-url", baseUrl];
  try {
    execFileSync(bin, args, { stdio: "inherit" });
  } catch (e) {
    if (e.code === "ENOENT") {
      throw new Error(
        `${bin} was not found; install it (cargo install --locked --path <fictures-seed checkout>) or set FICTURES_SEED_BIN to the binary`,
      );
    }
    // The tool printed its one-sentence reason on stderr above.
    throw new Error(`${bin} ${args.join(" ")} failed with exit code ${e.status}`);
  }
}
