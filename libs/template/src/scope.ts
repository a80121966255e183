/**
 * Names in lexical scope, innermost last: what Go keeps as a slice and searches from the end.
 * Lookups are by map so a template with thousands of variables does not go quadratic.
 */
export class LexicalScope<T> {
  private readonly entries: { readonly name: string; readonly value: T }[] = [];
  private readonly byName = new Map<string, T[]>();

  push(name: string, value: T): void {
    this.entries.push({ name, value });
    const stack = this.byName.get(name);
    if (stack) stack.push(value);
    else this.byName.set(name, [value]);
  }

  /** The innermost binding of `name`. */
  get(name: string): T | undefined {
    const stack = this.byName.get(name);
    return stack === undefined ? undefined : stack[stack.length - 1];
  }

  mark(): number {
    return this.entries.length;
  }

  /** Drops every binding made since `mark`. */
  pop(mark: number): void {
    while (this.entries.length > mark) {
      const { name } = this.entries.pop()!;
      const stack = this.byName.get(name)!;
      stack.pop();
      if (stack.length === 0) this.byName.delete(name);
    }
  }
}
