/**
 * How every authenticator answers with an access token (Conjur's `render_authn_token`):
 * the token JSON, or with `base64` among the `Accept-Encoding` items, its strict base64 as
 * text/plain with `Content-Encoding: base64`.
 */
import type { Request, Response } from "express";
import { acceptsBase64Item } from "./params.js";

export function sendAccessToken(req: Request, res: Response, token: string): void {
  if (acceptsBase64Item(req)) {
    res.status(200).type("text/plain").set("Content-Encoding", "base64").send(Buffer.from(token).toString("base64"));
  } else {
    res.status(200).type("application/json").send(token);
  }
}
