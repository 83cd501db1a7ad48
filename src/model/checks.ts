/**
 * The bridge between zod and the API's error registry. A field is checked by a plain
 * function that either returns the value or says what is wrong; the refusal carries the
 * API error code, and the first refusal of a body becomes one ApiError naming its field.
 */
import { z } from 'zod';
import { ApiError, type ErrorCode } from '../api/errors';

/** A check's verdict: the (normalized) value, or a refusal phrased after the field's name. */
export type Checked<T> = { ok: true; value: T } | { ok: false; message: string; code?: ErrorCode };

/** A zod schema that accepts anything as input and outputs T. */
export type FieldSchema<T> = z.ZodType<T, z.ZodTypeDef, unknown>;

/** Accepts a value. */
export function pass<T>(value: T): Checked<T> {
  return { ok: true, value };
}

/** Refuses a value; `message` follows the field's name ("must be ..."). */
export function fail<T>(message: string, code?: ErrorCode): Checked<T> {
  return { ok: false, message, code };
}

/** Wraps a check as a zod schema whose refusals carry `code` (or the check's own code). */
export function coded<T>(code: ErrorCode, check: (value: unknown) => Checked<T>): FieldSchema<T> {
  return z.unknown().transform((value, ctx) => {
    const result = check(value);
    if (result.ok) return result.value;

    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: result.message,
      params: { code: result.code ?? code },
    });
    return z.NEVER;
  });
}

/** A list of at most `max` items, each checked by `item`; a non-list is refused with `code`. */
export function list<T>(code: ErrorCode, item: FieldSchema<T>, max: number): FieldSchema<T[]> {
  const isList = coded(code, (value) =>
    Array.isArray(value) ? pass<unknown[]>(value) : fail(`must be a list, got ${show(value)}`),
  );
  return isList.pipe(z.array(item).max(max));
}

/** A JSON object; anything else (an array, null, a string) is refused as invalid_body. */
export function jsonObject(what: string, code: ErrorCode = 'invalid_body') {
  return coded(code, (value) =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? pass(value as Record<string, unknown>)
      : fail(`must be a JSON object ${what}, got ${show(value)}`),
  );
}

/** A JSON boolean; "true" or 1 are refused. */
export const jsonBoolean = coded('invalid_body', (value) =>
  typeof value === 'boolean' ? pass(value) : fail(`must be true or false, got ${show(value)}`),
);

/** True for a JSON integer in [min, max]; 80.5, "80" and true are not. */
export function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** A short, safe rendering of a refused value for a message. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // A body under the size limit can still nest deeper than the stack: JSON.parse took it.
    return 'a value nested too deeply to show';
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Parses `input` with `schema`, or throws the ApiError of its most telling issue: an unknown
 * field first (usually a typo that explains the rest), then the first issue in body order.
 */
export function parseOrThrow<T>(schema: FieldSchema<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;

  const issues = result.error.issues;
  const unknown = issues.find((issue) => issue.code === z.ZodIssueCode.unrecognized_keys);
  throw issueToError(unknown ?? issues[0], input);
}

function issueToError(issue: z.ZodIssue, input: unknown): ApiError {
  const where = fieldPath(issue.path);

  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    const field = fieldPath([...issue.path, issue.keys[0]]);
    const message = `unknown field "${field}"; remove it or check its spelling`;
    return new ApiError('unknown_field', message, { field });
  }
  if (issue.code === z.ZodIssueCode.too_big && issue.type === 'array') {
    const length = (valueAt(input, issue.path) as unknown[]).length;
    const message = `${where} has ${length} entries; at most ${issue.maximum} are allowed`;
    return new ApiError('too_many_entries', message, { field: where });
  }
  if (issue.code === z.ZodIssueCode.custom) {
    const code = (issue.params?.code ?? 'invalid_body') as ErrorCode;
    return new ApiError(code, `${where} ${issue.message}`, { field: where });
  }
  return new ApiError('invalid_body', `${where} ${issue.message}`, { field: where });
}

/** Renders a zod path as a person writes it: egress[2], custom_proxy.host. */
function fieldPath(path: (string | number)[]): string {
  if (path.length === 0) return 'body';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

function valueAt(input: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((value, key) => (value as Record<string, unknown>)?.[key], input);
}
