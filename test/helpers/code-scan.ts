/**
 * Finds the error and log codes written in TypeScript source, for test/unit/codes.test.ts.
 * Parsed with the TypeScript compiler (comments and regex literals cannot confuse it):
 *
 * - every string literal shaped like a code (`QUEUE_OPENED`: capitals, digits, at least one `_`);
 * - every string literal of any shape in a code position: the value of a `code`/`errorCode`/
 *   `lastCode` property or variable, or compared with one (also through `a ? 'X' : 'Y'` and `a ?? 'X'`);
 * - a code at the start of a message, `'QUEUE_LOCKED: queue directory …'` (the `CODE: reason` form);
 * - template literals and concatenations that start with a code prefix, `KAFKA_${type}`,
 *   `'ES_' + type` or `RETRIES_EXHAUSTED:${code}`, reported as the prefix form `KAFKA_*`, `ES_*`,
 *   `RETRIES_EXHAUSTED:*`;
 * - the keys of an object literal assigned to `REJECTIONS` (the HTTP answer table).
 *
 * `inType` marks literals inside a type (`type RejectCode = 'NOT_FOUND' | …`): a declaration, not a use.
 */
import ts from 'typescript';

export interface CodeSite {
  code: string;
  line: number;
  inType: boolean;
}

export const CODE_SHAPE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
const PREFIX_SHAPE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*[_:]$/;
const MESSAGE_CODE = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+): /;
const CODE_NAME = /(?:^|[a-z])(?:code|Code|CODE)$/;

function nameOf(node: ts.Node | undefined): string | undefined {
  if (!node) return undefined;
  if (ts.isIdentifier(node) || ts.isStringLiteral(node) || ts.isPrivateIdentifier(node)) return node.text;
  if (ts.isPropertyAccessExpression(node)) return node.name.text;
  if (ts.isElementAccessExpression(node) && ts.isStringLiteral(node.argumentExpression)) return node.argumentExpression.text;
  return undefined;
}

/** True when the literal is (one branch of) the value given to something named `…code`. */
function inCodePosition(node: ts.Node): boolean {
  let child: ts.Node = node;
  let parent = node.parent;
  while (parent && (ts.isConditionalExpression(parent) || ts.isParenthesizedExpression(parent) || ts.isAsExpression(parent) ||
    (ts.isBinaryExpression(parent) && (parent.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken || parent.operatorToken.kind === ts.SyntaxKind.BarBarToken) && parent.right === child))) {
    if (ts.isConditionalExpression(parent) && parent.condition === child) return false;
    child = parent;
    parent = parent.parent;
  }
  if (!parent) return false;
  if (ts.isPropertyAssignment(parent) && parent.initializer === child) return CODE_NAME.test(nameOf(parent.name) ?? '');
  if ((ts.isVariableDeclaration(parent) || ts.isPropertyDeclaration(parent)) && parent.initializer === child) return CODE_NAME.test(nameOf(parent.name) ?? '');
  if (ts.isBinaryExpression(parent) && parent.right === child) {
    const op = parent.operatorToken.kind;
    if (op === ts.SyntaxKind.EqualsToken || op === ts.SyntaxKind.EqualsEqualsEqualsToken || op === ts.SyntaxKind.ExclamationEqualsEqualsToken) return CODE_NAME.test(nameOf(parent.left) ?? '');
  }
  return false;
}

function isInType(node: ts.Node): boolean {
  for (let p = node.parent; p; p = p.parent) {
    if (ts.isLiteralTypeNode(p)) return true;
    if (ts.isStatement(p) || ts.isExpression(p)) return false;
  }
  return false;
}

export function scanCodes(source: string, fileName = 'source.ts'): CodeSite[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const sites: CodeSite[] = [];
  const add = (code: string, node: ts.Node, inType = false) => {
    sites.push({ code, line: file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1, inType });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
      const text = node.text;
      const parent = node.parent;
      if (CODE_SHAPE.test(text) || (text !== '' && inCodePosition(node))) add(text, node, isInType(node));
      else if (PREFIX_SHAPE.test(text) && ts.isBinaryExpression(parent) && parent.operatorToken.kind === ts.SyntaxKind.PlusToken && parent.left === node) add(`${text}*`, node);
      else if (MESSAGE_CODE.test(text)) add(MESSAGE_CODE.exec(text)![1]!, node);
    } else if (ts.isTemplateExpression(node)) {
      if (PREFIX_SHAPE.test(node.head.text)) add(`${node.head.text}*`, node);
      else if (MESSAGE_CODE.test(node.head.text)) add(MESSAGE_CODE.exec(node.head.text)![1]!, node);
    } else if (ts.isVariableDeclaration(node) && nameOf(node.name) === 'REJECTIONS' && node.initializer && ts.isObjectLiteralExpression(node.initializer)) {
      for (const property of node.initializer.properties) {
        const key = nameOf(property.name);
        if (key) add(key, property, true);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return sites;
}
