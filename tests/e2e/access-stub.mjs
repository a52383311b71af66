// A stand-in for a Cloudflare Access team, which is outside our system: it
// generates its own RSA key pairs, serves their public halves as the team's
// JWKS at /cdn-cgi/access/certs, and signs RS256 tokens shaped like the
// `Cf-Access-Jwt-Assertion` Access puts in front of the worker. Tests point
// the worker at it with ACCESS_TEAM_DOMAIN=<its origin> and ACCESS_AUD.
import { createSign, generateKeyPairSync, randomBytes } from "node:crypto";
import http from "node:http";

const b64url = (data) => Buffer.from(data).toString("base64url");

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = randomBytes(8).toString("hex");
  return { kid, privateKey, jwk: { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" } };
}

/** Signs `claims` with `privateKey` as an RS256 JWT whose header names `kid`. */
export function signJwt(claims, { privateKey, kid, alg = "RS256" }) {
  const header = b64url(JSON.stringify({ alg, kid, typ: "JWT" }));
  const payload = b64url(JSON.stringify(claims));
  const signer = createSign("RSA-SHA256");
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${signer.sign(privateKey).toString("base64url")}`;
}

/**
 * Starts the stub team. `token(email, extra)` signs a valid token for the
 * team's audience; `rotate()` adds a new signing key (served from then on,
 * the old one kept too, as Access does); `foreign()` is a key pair the team
 * never published. `certRequests` counts JWKS fetches.
 */
export async function startAccessTeam({ aud = randomBytes(16).toString("hex") } = {}) {
  const keys = [keyPair()];
  let certRequests = 0;
  const server = http.createServer((req, res) => {
    if (req.url === "/cdn-cgi/access/certs") {
      certRequests++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: keys.map((k) => k.jwk), public_cert: { kid: keys[0].kid, cert: "unused" } }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const now = () => Math.floor(Date.now() / 1000);
  const team = {
    origin,
    aud,
    get certRequests() {
      return certRequests;
    },
    /** The claims Access signs for `email`, overridable by `extra`. */
    claims(email, extra = {}) {
      return {
        aud: [aud],
        email,
        exp: now() + 3600,
        iat: now(),
        nbf: now(),
        iss: origin,
        type: "app",
        identity_nonce: randomBytes(8).toString("hex"),
        sub: randomBytes(8).toString("hex"),
        country: "NL",
        ...extra,
      };
    },
    /** A valid token for `email` signed with the team's newest key. */
    token(email, extra = {}, key = keys[keys.length - 1]) {
      return signJwt(team.claims(email, extra), key);
    },
    rotate() {
      const k = keyPair();
      keys.push(k);
      return k;
    },
    foreign: () => keyPair(),
    vars: () => ({ ACCESS_TEAM_DOMAIN: origin, ACCESS_AUD: aud }),
    close: () => new Promise((r) => server.close(r)),
  };
  return team;
}
