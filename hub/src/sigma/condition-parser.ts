// The Sigma condition grammar, by precedence (lowest first):
//   or     := and ("or" and)*
//   and    := unary ("and" unary)*
//   unary  := "not" unary | primary
//   primary:= "(" or ")" | ("1" | "any" | "all") "of" (name-pattern | "them") | name
// Aggregations (`| count() > 5`) are refused: windowed rules are a separate engine.

import { RuleSyntaxError } from "./rule-error";
import type { ConditionNode } from "./types";

type TokenKind = "lparen" | "rparen" | "and" | "or" | "not" | "of" | "them" | "one" | "all" | "word" | "pipe";

interface Lexeme {
  token: TokenKind;
  text: string;
  offset: number;
}

const KEYWORDS: Readonly<Record<string, TokenKind>> = {
  and: "and",
  or: "or",
  not: "not",
  of: "of",
  them: "them",
  "1": "one",
  any: "one",
  all: "all",
};

function lex(condition: string): Lexeme[] {
  const out: Lexeme[] = [];
  const re = /\s*(?:(\()|(\))|(\|)|([A-Za-z0-9_*.-]+)|(\S))/y;
  let m: RegExpExecArray | null = re.exec(condition);
  while (m !== null && m[0] !== "") {
    const offset = re.lastIndex - m[0].trimStart().length;
    if (m[1] !== undefined) out.push({ token: "lparen", text: "(", offset });
    else if (m[2] !== undefined) out.push({ token: "rparen", text: ")", offset });
    else if (m[3] !== undefined) {
      // Everything after a pipe is an aggregation; the parser reports it.
      out.push({ token: "pipe", text: "|", offset });
      break;
    } else if (m[4] !== undefined)
      out.push({ token: KEYWORDS[m[4].toLowerCase()] ?? "word", text: m[4], offset });
    else throw new RuleSyntaxError(`condition: unexpected '${m[5]}' at offset ${offset}`);
    if (re.lastIndex >= condition.length) break;
    m = re.exec(condition);
  }
  return out;
}

class Parser {
  private position = 0;

  constructor(
    private readonly lexemes: Lexeme[],
    private readonly text: string,
  ) {}

  parse(): ConditionNode {
    if (this.lexemes.length === 0) throw new RuleSyntaxError("condition is empty");
    const node = this.or();
    const rest = this.peek();
    if (rest !== undefined) {
      if (rest.token === "pipe") {
        throw new RuleSyntaxError(`condition '${this.text}': aggregations after '|' are not supported`);
      }
      throw this.error(`unexpected '${rest.text}'`, rest);
    }
    return node;
  }

  private peek(): Lexeme | undefined {
    return this.lexemes[this.position];
  }

  private take(): Lexeme | undefined {
    return this.lexemes[this.position++];
  }

  private error(what: string, at: Lexeme | undefined): RuleSyntaxError {
    const where = at === undefined ? "at the end" : `at offset ${at.offset}`;
    return new RuleSyntaxError(`condition '${this.text}': ${what} ${where}`);
  }

  private or(): ConditionNode {
    const children = [this.and()];
    while (this.peek()?.token === "or") {
      this.take();
      children.push(this.and());
    }
    return children.length === 1 ? children[0] : { kind: "or", children };
  }

  private and(): ConditionNode {
    const children = [this.unary()];
    while (this.peek()?.token === "and") {
      this.take();
      children.push(this.unary());
    }
    return children.length === 1 ? children[0] : { kind: "and", children };
  }

  private unary(): ConditionNode {
    if (this.peek()?.token === "not") {
      this.take();
      return { kind: "not", child: this.unary() };
    }
    return this.primary();
  }

  private primary(): ConditionNode {
    const lexeme = this.take();
    if (lexeme === undefined) throw this.error("expected a selection", undefined);
    switch (lexeme.token) {
      case "lparen": {
        const inner = this.or();
        const close = this.take();
        if (close?.token !== "rparen") throw this.error("expected ')'", close);
        return inner;
      }
      case "one":
      case "all": {
        const of = this.take();
        if (of?.token !== "of") throw this.error(`expected 'of' after '${lexeme.text}'`, of);
        const target = this.take();
        const quantifier = lexeme.token === "all" ? "all" : "any";
        if (target?.token === "them") return { kind: "of", quantifier, target: { kind: "them" } };
        if (target?.token === "word")
          return { kind: "of", quantifier, target: { kind: "pattern", pattern: target.text } };
        throw this.error("expected a selection name pattern or 'them'", target);
      }
      case "word":
        if (lexeme.text.includes("*"))
          throw this.error(`wildcard '${lexeme.text}' needs '1 of' or 'all of'`, lexeme);
        return { kind: "ref", name: lexeme.text };
      default:
        throw this.error(`unexpected '${lexeme.text}'`, lexeme);
    }
  }
}

export function parseCondition(condition: string): ConditionNode {
  return new Parser(lex(condition), condition).parse();
}
