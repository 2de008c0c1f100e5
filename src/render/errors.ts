/**
 * Why a file cannot be rendered or a file description is invalid. Messages name the file,
 * key or alias and the rule broken, never a secret value: they reach Events and logs.
 */
export class RenderError extends Error {
  override readonly name = "RenderError";
}
