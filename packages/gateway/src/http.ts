import { isSockkitError } from "@sockkit/core";

/** A request the gateway refuses, with the HTTP status and the field at fault. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Why a policy refused (403): the rule, for the caller and for the denial metrics. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** 400 naming the field at fault. */
export function badRequest(field: string, message: string): HttpError {
  return new HttpError(400, "EBADREQUEST", message, field);
}

export function json(body: unknown, status = 200, headers?: HeadersInit): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

// Upstream failures by sockkit code. Anything else is the gateway's own bug:
// 500 with a generic message, never a stack trace.
const STATUS_BY_CODE: Record<string, [status: number, code: string]> = {
  EDESTINATION_DENIED: [403, "EDESTINATION_DENIED"],
  ETIMEDOUT: [504, "ETIMEDOUT"],
  ECONNECT: [502, "ECONNECT"],
  ETLS: [502, "ETLS"],
  EPROTOCOL: [502, "EPROTOCOL"],
  ECLOSED: [502, "ECLOSED"],
  ETRUNCATED: [502, "ETRUNCATED"],
  ETOOLARGE: [502, "ETOOLARGE"],
  EREPLY: [502, "EREPLY"],
};

/** The JSON error response for `error`. */
export function errorResponse(error: unknown): Response {
  if (error instanceof HttpError) {
    return json(
      {
        error: {
          code: error.code,
          message: error.message,
          ...(error.field ? { field: error.field } : {}),
          ...(error.reason ? { reason: error.reason } : {}),
        },
      },
      error.status,
    );
  }
  if (isSockkitError(error)) {
    const [status, code] = STATUS_BY_CODE[error.code] ?? [502, error.code];
    const detail = (error as { reasonCode?: number; prefix?: string; reason?: string }) ?? {};
    return json(
      {
        error: {
          code,
          message: error.message,
          ...(detail.reason ? { reason: detail.reason } : {}),
          ...(detail.prefix ? { prefix: detail.prefix } : {}),
          ...(detail.reasonCode !== undefined ? { reasonCode: detail.reasonCode } : {}),
        },
      },
      status,
    );
  }
  if (error instanceof TypeError) return json({ error: { code: "EBADREQUEST", message: error.message } }, 400);
  return json({ error: { code: "EINTERNAL", message: "the gateway failed unexpectedly" } }, 500);
}

/** Reads a JSON body of at most `maxBytes`, refusing anything else with 400/413/415. */
export async function readJson(request: Request, maxBytes: number): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type))
    throw new HttpError(415, "EUNSUPPORTED_MEDIA_TYPE", "the body must be JSON (content-type: application/json)");
  const bytes = await readCapped(request.body, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw badRequest("body", "the body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw badRequest("body", "the body must be a JSON object");
  return value as Record<string, unknown>;
}

/** The whole body, failing with 413 past `maxBytes` (without reading further). */
export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, "ETOOLARGE", `the body is larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
