// The parser the gateway's metrics test reads GET /metrics with (the package ships no types).
declare module "parse-prometheus-text-format" {
  /** Throws on a line that is not in the Prometheus text format; returns prom2json's shape. */
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
