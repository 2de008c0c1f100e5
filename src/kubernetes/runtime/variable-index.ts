/** Which queue keys use which variable, so a secret write re-resolves exactly those keys. */
export class VariableIndex {
  readonly #keysByVariable = new Map<string, Set<string>>();
  readonly #variablesByKey = new Map<string, string[]>();

  set(key: string, variables: string[]): void {
    for (const v of this.#variablesByKey.get(key) ?? []) {
      const keys = this.#keysByVariable.get(v);
      keys?.delete(key);
      if (keys && !keys.size) this.#keysByVariable.delete(v);
    }
    if (!variables.length) this.#variablesByKey.delete(key);
    else this.#variablesByKey.set(key, variables);
    for (const v of variables) (this.#keysByVariable.get(v) ?? this.#keysByVariable.set(v, new Set()).get(v)!).add(key);
  }

  keysFor(variable: string): string[] {
    return [...(this.#keysByVariable.get(variable) ?? [])];
  }
}
