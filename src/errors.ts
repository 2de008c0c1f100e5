/**
 * The error catalog. Code throws one of these; `renderError` in http/ turns it into
 * Conjur's JSON body `{"error":{"code","message",...}}`. A `null` body means an empty
 * response, which is what Conjur sends for 403 and most 401s.
 */
export interface ErrorBody {
  error: { code: string; message: string; [extra: string]: unknown };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | null,
    readonly headers: Record<string, string> = {},
  ) {
    super(body?.error.message ?? `HTTP ${status}`);
  }
}

const body = (code: string, message: string, extra: Record<string, unknown> = {}): ErrorBody => ({
  error: { code, message, ...extra },
});

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export const errors = {
  /** A role or resource that does not exist or that the caller may not see. */
  recordNotFound: (account: string, kind: string, identifier: string): ApiError =>
    new ApiError(
      404,
      body("not_found", `${capitalize(kind)} '${identifier}' not found in account '${account}'`, {
        target: kind,
        details: { code: "not_found", target: "id", message: `${account}:${kind}:${identifier}` },
      }),
    ),
  secretNotFound: (fullId: string): ApiError =>
    new ApiError(404, body("not_found", `CONJ00076E Variable ${fullId} is empty or not found.`)),
  rotationTargetNotFound: (targetId: string, callerId: string): ApiError =>
    new ApiError(404, body("not_found", `CONJ00123E Resource '${targetId}' requested by role '${callerId}' not found`)),
  routeNotFound: (method: string, path: string): ApiError =>
    new ApiError(404, body("not_found", `No route matches [${method}] ${JSON.stringify(path)}`)),
  forbidden: (): ApiError => new ApiError(403, null),
  unauthorized: (message?: string): ApiError => new ApiError(401, message ? body("unauthorized", message) : null),
  argument: (message: string): ApiError => new ApiError(422, body("argument_error", message)),
  unprocessable: (message: string): ApiError => new ApiError(422, body("unprocessable_entity", message)),
  validationFailed: (field: string, message: string): ApiError =>
    new ApiError(
      422,
      body("validation_failed", `${field} ${message}`, {
        details: [{ code: "validation_failed", target: field, message }],
      }),
    ),
  policyInvalid: (message: string, position?: { line: number; column: number }): ApiError =>
    new ApiError(
      422,
      body(
        "policy_invalid",
        position ? `line ${position.line}, column ${position.column}: ${message}` : message,
        position ? { innererror: { code: "policy_invalid", line: position.line, column: position.column } } : {},
      ),
    ),
  notAcceptable: (): ApiError =>
    new ApiError(
      406,
      body(
        "not_acceptable",
        "CONJ00074E Issue encoding secret into JSON format, try including 'Accept-Encoding: base64' header in request.",
      ),
    ),
  methodNotAllowed: (message: string): ApiError => new ApiError(405, body("method_not_allowed", message)),
  conflict: (kind: string, id: string): ApiError =>
    new ApiError(409, body("conflict", `${capitalize(kind)} '${id}' already exists`, { target: kind })),
  policyConflict: (): ApiError =>
    new ApiError(409, body("policy_conflict", "Concurrent policy load in progress, please retry"), {
      "Retry-After": "1",
    }),
  payloadTooLarge: (limit: number): ApiError =>
    new ApiError(413, body("payload_too_large", `request body exceeds the limit of ${limit} bytes`)),
  tooManyAuthnFailures: (retryAfterSeconds: number): ApiError =>
    new ApiError(
      429,
      body("too_many_requests", `Too many failed authentication attempts; retry after ${retryAfterSeconds} seconds`),
      { "Retry-After": String(retryAfterSeconds) },
    ),
  badRequest: (message: string): ApiError => new ApiError(400, body("bad_request", message)),
  /** Rails' ParameterMissing, as Conjur renders it. */
  parameterMissing: (name: string): ApiError =>
    new ApiError(422, body("parameter_missing", `param is missing or the value is empty: ${name}`)),
  /** Conjur's authenticators answer a missing credential field with an empty 400. */
  emptyBadRequest: (): ApiError => new ApiError(400, null),
  unavailable: (message: string): ApiError =>
    new ApiError(503, body("service_unavailable", message), { "Retry-After": "1" }),
  /** The database refused a value the request carried (a safety net behind src/input/limits.ts). */
  unstorableInput: (): ApiError =>
    new ApiError(
      422,
      body("argument_error", "the request contains a value that cannot be stored (too long, or a NUL byte)"),
    ),
  internal: (): ApiError => new ApiError(500, body("internal_error", "An internal error occurred; see the server log")),
};

/** Startup failures that are the operator's to fix (wrong data key, unreachable database). */
export class FatalStartupError extends Error {}
