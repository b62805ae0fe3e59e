import { pipeToSocket, TooLargeError, toResponse } from "@sockkit/core";
import type { Route } from "../context.js";
import { openSocket } from "../probe.js";
import { at, describeTarget, destination, requireAllowlisted } from "../target.js";
import { upstream } from "../upstream.js";

/** POST /tcp: streams the body to a named destination and its bytes back, within limits. */
export const tcpRoute: Route = {
  method: "POST",
  path: "/tcp",
  async handle(call) {
    const { request, url, client, context } = call;
    const { limits } = context;
    const target = destination(Object.fromEntries(url.searchParams), "tcp");
    call.record.upstream = describeTarget("tcp", target);
    requireAllowlisted(context.policy, target, "POST /tcp");
    // The slot is held for the whole relay, not just until the response starts.
    const release = context.slots.take(client);
    let socket;
    try {
      // The latency is the connect's; the relay's length is the caller's.
      socket = await upstream(call, "tcp", target, () =>
        openSocket(context.connects.tcp, at(target), target.tls, limits.connectTimeoutMs),
      );
    } catch (error) {
      release();
      throw error;
    }
    const opened = socket;
    // The whole relay has a deadline; when the socket closes, for any reason, the slot is free.
    const deadline = setTimeout(() => void opened.close().catch(() => {}), limits.relayTimeoutMs);
    const done = () => {
      clearTimeout(deadline);
      release();
    };
    opened.closed.then(done, done);
    // Past maxResponseBytes the relay stops and the socket closes: the client sees a cut body.
    void pipeToSocket(limitBody(request.body, limits.maxBodyBytes), opened).catch(() => opened.close().catch(() => {}));
    let seen = 0;
    const capped = toResponse(opened).body!.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.length;
          // Erroring cancels the relay, which closes the socket.
          if (seen > limits.maxResponseBytes)
            controller.error(
              new TooLargeError(
                `the upstream sent more than ${limits.maxResponseBytes} bytes`,
                limits.maxResponseBytes,
              ),
            );
          else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(capped, { headers: { "content-type": "application/octet-stream" } });
  },
};

/** The request body, erroring past `maxBytes` so the relay stops. */
function limitBody(body: ReadableStream<Uint8Array> | null, maxBytes: number): ReadableStream<Uint8Array> | null {
  if (body === null) return null;
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.length;
        if (seen > maxBytes)
          controller.error(new TooLargeError(`the request body is larger than ${maxBytes} bytes`, maxBytes));
        else controller.enqueue(chunk);
      },
    }),
  );
}
