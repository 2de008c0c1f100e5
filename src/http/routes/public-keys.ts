/**
 * `GET /public_keys/{account}/{kind}/{identifier}` (conjur-api-second-pass.md §5): no token
 * needed and no visibility check (public keys are public), but a token that is sent must be
 * valid. Text: every key stripped, joined by newlines, plus one final newline ("\n" for none).
 */
import { Router, type Request, type Response } from "express";
import { errors } from "../../errors.js";
import { latestPublicKeys } from "../../policy/public-keys.js";
import { fullId } from "../../authz/ids.js";
import { accountOf, identifierOf } from "../params.js";
import type { Services } from "../services.js";

export function publicKeysRouter(services: Services): Router {
  const router = Router();
  router.get("/public_keys/:account/:kind/*identifier", async (req: Request, res: Response) => {
    const account = accountOf(req);
    const kind = req.params.kind as string;
    if (kind !== "user" && kind !== "public_key") throw errors.routeNotFound(req.method, req.path);
    const identifier = identifierOf(req);
    fullId(account, kind, identifier); // bounds the strings before they reach SQL
    if (req.get("authorization") !== undefined) await services.tokens.verifyHeader(req.get("authorization"));
    const keys = await latestPublicKeys(services.pool, services.aead, account, kind, identifier);
    res
      .status(200)
      .type("text/plain")
      .send(
        `${keys
          .map((k) => k.trim())
          .join("\n")
          .trim()}\n`,
      );
  });
  return router;
}
