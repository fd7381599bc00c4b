/**
 * Which EMF metric names a handler emits, read from the code that goes into its Lambda bundle:
 * every `<x>.addMetric(<name>, …)` call in our own sources of the bundle (esbuild's inputs, so
 * helpers under functions/lib count for the handlers that bundle them). A name is a string
 * literal, a const bound to one, or the variable of a `for (const name of ['a', 'b'])` loop; any
 * other form is an error, so a metric can never slip past the dashboard test unread.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { bundleHandler, REPO_ROOT } from '../../components/bundle';
import type { HandlerName } from '../../protocol/routes';

/** Our own sources, as esbuild names them (relative to the repository root). */
const OWN_SOURCE = /^(functions|protocol)\/.*\.ts$/;

function unwrap(node: ts.Expression): ts.Expression {
  let e = node;
  while (ts.isAsExpression(e) || ts.isParenthesizedExpression(e) || ts.isSatisfiesExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
  return e;
}

function literal(node: ts.Expression): string | undefined {
  const e = unwrap(node);
  return ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) ? e.text : undefined;
}

/** The names an identifier can hold, from its binding in an enclosing scope. */
function namesOfIdentifier(id: ts.Identifier): string[] | undefined {
  for (let scope: ts.Node | undefined = id.parent; scope; scope = scope.parent) {
    if (ts.isForOfStatement(scope) && ts.isVariableDeclarationList(scope.initializer)) {
      const declared = scope.initializer.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === id.text);
      const list = unwrap(scope.expression);
      if (declared && ts.isArrayLiteralExpression(list)) {
        const names = list.elements.map((e) => literal(e));
        return names.every((n): n is string => n !== undefined) ? names : undefined;
      }
    }
    if (ts.isBlock(scope) || ts.isSourceFile(scope)) {
      for (const statement of scope.statements) {
        if (!ts.isVariableStatement(statement) || !(statement.declarationList.flags & ts.NodeFlags.Const)) continue;
        for (const d of statement.declarationList.declarations) {
          if (ts.isIdentifier(d.name) && d.name.text === id.text && d.initializer) {
            const value = literal(d.initializer);
            return value === undefined ? undefined : [value];
          }
        }
      }
    }
  }
  return undefined;
}

/** Metric names of every addMetric call in one source file; throws on a name it cannot read. */
export function metricsInSource(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const names: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'addMetric') {
      const arg = node.arguments[0];
      const found = arg === undefined ? undefined : (literal(arg) !== undefined ? [literal(arg) as string] : ts.isIdentifier(unwrap(arg)) ? namesOfIdentifier(unwrap(arg) as ts.Identifier) : undefined);
      if (!found) {
        const { line } = source.getLineAndCharacterOfPosition(node.getStart());
        throw new Error(`${file}:${line + 1}: cannot tell which metric ${node.getText().slice(0, 80)} emits; name it with a string literal`);
      }
      names.push(...found);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/** Every metric name a handler's bundle can emit, with the source files that emit each. */
export function emittedMetrics(handler: HandlerName): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const file of Object.keys(bundleHandler(handler).inputs).filter((f) => OWN_SOURCE.test(f))) {
    for (const name of metricsInSource(file, readFileSync(path.join(REPO_ROOT, file), 'utf8'))) {
      byName.set(name, [...new Set([...(byName.get(name) ?? []), file])]);
    }
  }
  return byName;
}
