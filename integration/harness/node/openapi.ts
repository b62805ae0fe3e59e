// The gateway's OpenAPI file as a test oracle (Node only: Ajv compiles with `new Function`,
// which workerd forbids). The document itself is validated against the OpenAPI 3.1 schema;
// then every response the end-to-end suite sees must be documented for its path, method and
// status, and its JSON body must match the documented schema.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import YAML from "yaml";

const SPEC = fileURLToPath(new URL("../../../packages/gateway/openapi.yaml", import.meta.url));

interface Operation {
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
}
type Spec = {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, Operation["responses"][string]> };
};

export interface SpecChecker {
  /** Throws when the response is undocumented or its body does not match. */
  check(request: Request, response: Response): Promise<void>;
  /** Documented operations (`GET /probe/redis`) no checked response exercised. */
  unexercised(): string[];
  /** Every `METHOD path status` seen, for the report. */
  seen(): string[];
}

export async function loadSpecChecker(): Promise<SpecChecker> {
  const document = YAML.parse(readFileSync(SPEC, "utf8")) as Spec;
  const result = await new Validator().validate(structuredClone(document));
  if (!result.valid)
    throw new Error(
      `packages/gateway/openapi.yaml is not valid OpenAPI 3.1: ${JSON.stringify(result.errors, null, 2)}`,
    );
  // OpenAPI's own keys (paths, info…) are not JSON Schema keywords: only the schemas inside are.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ ...document, $id: "openapi" });
  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (pointer: string) => {
    let validate = compiled.get(pointer);
    if (!validate) compiled.set(pointer, (validate = ajv.compile({ $ref: `openapi#${pointer}` })));
    return validate;
  };
  const seen = new Set<string>();
  const exercised = new Set<string>();

  return {
    async check(request, response) {
      const method = request.method.toLowerCase();
      const path = new URL(request.url).pathname;
      const status = String(response.status);
      seen.add(`${method.toUpperCase()} ${path} ${status}`);
      const type = response.headers.get("content-type") ?? "";
      // Only JSON bodies are read (a relay's stream is left to the test that reads it).
      const body = type.startsWith("application/json") ? await response.clone().text() : "";
      const item = document.paths[path];
      const operation = item?.[method];
      if (!operation) {
        // Outside the documented operations only the documented 404/405 error bodies are allowed.
        const expected = item ? "405" : "404";
        if (status !== expected)
          throw new Error(
            `${method.toUpperCase()} ${path} gave ${status}; an undocumented operation must be a ${expected}`,
          );
        const validate = validatorFor("/components/schemas/Error");
        if (!validate(JSON.parse(body)))
          throw new Error(`${method.toUpperCase()} ${path} ${status}: ${ajv.errorsText(validate.errors)}`);
        return;
      }
      exercised.add(`${method.toUpperCase()} ${path}`);
      let documented = operation.responses[status];
      let pointer = `/paths/${path.replaceAll("~", "~0").replaceAll("/", "~1")}/${method}/responses/${status}`;
      if (!documented)
        throw new Error(
          `${method.toUpperCase()} ${path} gave ${status}, which openapi.yaml does not document (body: ${body.slice(0, 200)})`,
        );
      if (documented.$ref) {
        pointer = documented.$ref.slice(1);
        documented = document.components.responses[pointer.split("/").pop()!]!;
      }
      const mediaType = Object.keys(documented.content ?? {}).find((media) => type.startsWith(media));
      if (documented.content && !mediaType)
        throw new Error(
          `${method.toUpperCase()} ${path} ${status} is ${type}; documented: ${Object.keys(documented.content).join(", ")}`,
        );
      if (mediaType === "application/json") {
        const validate = validatorFor(`${pointer}/content/application~1json/schema`);
        if (!validate(JSON.parse(body)))
          throw new Error(
            `${method.toUpperCase()} ${path} ${status} does not match openapi.yaml: ${ajv.errorsText(validate.errors)}; body: ${body.slice(0, 300)}`,
          );
      }
    },
    unexercised() {
      const all = Object.entries(document.paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
      );
      return all.filter((operation) => !exercised.has(operation));
    },
    seen: () => [...seen].sort(),
  };
}
