// Decodes an Auth.js session token with the real library, so that
// tests/auth_interop.rs can prove fictures-seed's cookies are accepted.
//
// Usage: node tests/node/decode.mjs <secret> <cookie name> < token
// Prints the decoded claims as JSON; exits 1 (with the reason on stderr) when
// Auth.js refuses the token.
import { decode } from "@auth/core/jwt";

const [secret, salt] = process.argv.slice(2);
if (!secret || !salt) {
  console.error("usage: node decode.mjs <secret> <cookie name> < token");
  process.exit(2);
}

let token = "";
for await (const chunk of process.stdin) token += chunk;
token = token.trim();

try {
  // The cookie name is the salt: that is how getToken() calls decode.
  const payload = await decode({ token, secret, salt });
  if (!payload) throw new Error("decode returned nothing");
  console.log(JSON.stringify(payload));
} catch (e) {
  console.error(`Auth.js refused the token: ${e?.code ?? ""} ${e?.message ?? e}`);
  process.exit(1);
}
