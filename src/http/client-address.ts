/**
 * Sets `req.ip` to the client address by Conjur's rule (src/authn/client-ip.ts), so every
 * route, audit record and throttle reads the same answer. Express's own `trust proxy` stays
 * off: its parsing of X-Forwarded-For differs from Rack's in the details.
 */
import type { NextFunction, Request, Response } from "express";
import { ClientIpResolver } from "../authn/client-ip.js";

export function clientAddress(trustedProxies: readonly string[]) {
  const resolver = new ClientIpResolver(trustedProxies);
  return (req: Request, _res: Response, next: NextFunction): void => {
    const forwarded = req.headers["x-forwarded-for"];
    const ip = resolver.resolve(req.socket.remoteAddress, Array.isArray(forwarded) ? forwarded.join(",") : forwarded);
    Object.defineProperty(req, "ip", { value: ip, configurable: true, enumerable: true });
    next();
  };
}
