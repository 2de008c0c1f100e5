/** The who/where part of an audit record, from a request: the caller (or a claimed role), request id, client address. */
import type { Request, Response } from "express";
import type { AuditAction, AuditContext } from "../audit/audit.js";
import type { Caller } from "./middleware/authenticate.js";

export function auditContext(
  req: Request,
  res: Response,
  action: AuditAction,
  fields: { role?: string; resource?: string } = {},
): AuditContext {
  return {
    action,
    role: fields.role ?? (res.locals.auth as Caller | undefined)?.roleId,
    ...(fields.resource !== undefined ? { resource: fields.resource } : {}),
    requestId: res.locals.requestId as string,
    clientIp: req.ip,
  };
}
