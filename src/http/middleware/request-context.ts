/**
 * Request id (echoing a well-formed `X-Request-Id`, else a new one), a child logger, and
 * per-request metrics labelled by route template, never by the concrete path.
 */
import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { logInfoLater } from "../../telemetry/logger.js";
import type { Services } from "../services.js";

const REQUEST_ID = /^[a-zA-Z\d-]{1,255}$/;

export function requestContext(services: Services) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.get("x-request-id");
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader("X-Request-Id", requestId);
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : "unmatched";
      const labels = { method: req.method, route, status: String(res.statusCode) };
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      services.metrics.httpRequests.inc(labels);
      services.metrics.httpDuration.observe(labels, seconds);
      const fields = `"requestId":${JSON.stringify(requestId)},"method":${JSON.stringify(req.method)},"route":${JSON.stringify(route)},"path":${JSON.stringify(req.path)},"status":${res.statusCode},"ms":${Math.round(seconds * 1e4) / 10}`;
      logInfoLater(services.log, fields, "request");
    });
    next();
  };
}
