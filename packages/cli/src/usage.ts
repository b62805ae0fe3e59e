// What `sockkit --help` and `sockkit <command> --help` print: one text per command, kept apart from
// the code that runs it so the overview and the command's own page cannot drift apart.

export type CommandName = "gateway" | "probe" | "redis" | "mqtt" | "mqtt pub" | "mqtt sub";

const EXIT_CODES = "Exit codes: 0 done, 1 the operation failed (upstream, policy, timeout), 2 bad usage.";

export const COMMAND_USAGE: Record<CommandName, string> = {
  gateway: `Usage: sockkit gateway [--port 8787] [--host 127.0.0.1] [--allow HOST:PORTS]... [--token TOKEN]
                       [--tokens FILE] [--redis-commands RULES | --read-only]
                       [--mqtt-publish FILTER]... [--mqtt-subscribe FILTER]... [--quiet] [--demo]

Serve the gateway (probes, POST /redis, POST /mqtt/publish, POST /tcp, a probe page) on Node.
Runs until SIGINT or SIGTERM, then lets requests in progress finish and exits 0. Writes one JSON
line per request on stdout (request id, route, status, caller, upstream, duration; never a token,
a Redis argument or a payload). GET /metrics serves Prometheus metrics, behind the token.

Options:
  --port N            port to listen on; 0 picks a free one (default 8787)
  --host HOST         address to listen on (default 127.0.0.1)
  --allow [PROTOCOL://]HOST:PORTS
                      a destination the gateway may reach, private ones included; repeatable.
                      e.g. 127.0.0.1:6379, [::1]:1883, 10.0.0.0/8:6379,6380, db.internal:7000-7005;
                      redis://, mqtt:// or tcp:// says what it is for the page (else guessed by port)
  --token TOKEN       require "Authorization: Bearer TOKEN" on every request
  --tokens FILE       several tokens, each with its own rights: a JSON array of
                      { "token", "name", "redisCommands", "mqttPublish", "mqttSubscribe" }
                      (what an entry leaves out comes from the options below)
  --redis-commands RULES
                      Redis commands POST /redis may run, as Redis ACL rules in order, e.g.
                      "+@all -@dangerous +client|list"; or "default", or "read-only".
                      Default: everything but @admin, @dangerous, @scripting, ACL and CLUSTER
                      (INFO and CLIENT LIST allowed)
  --read-only         the same as --redis-commands read-only (@read and @connection commands)
  --mqtt-publish FILTER
                      a topic filter POST /mqtt/publish may publish within; repeatable
                      (default: #, every topic not starting with $)
  --mqtt-subscribe FILTER
                      a topic filter GET /mqtt/subscribe may subscribe within; repeatable (default: #)
  --quiet             no request log lines
  --demo              also start an MQTT broker (Aedes) and, if installed, redis-server on free
                      ports, allow both, and print curl lines to try
  -h, --help          show this text
`,
  probe: `Usage: sockkit probe URL [--timeout MS]

Connect to URL and check that the server answers: PING for Redis, CONNECT/CONNACK for MQTT,
an open connection for TCP. Prints "ok … in N ms".

URL:  redis://host[:port], rediss:// (TLS), mqtt://host[:port], mqtts:// (TLS), tcp://host:port

Options:
  --timeout MS        give up after MS milliseconds (default 5000)
  -h, --help          show this text
`,
  redis: `Usage: sockkit redis [--url redis://host[:port]] COMMAND [ARG]...

Send one command and print the reply (strings as they are, anything else as JSON).
Put "--" before arguments that start with "-" (sockkit redis -- SET k --value).

Options:
  --url URL           redis:// or rediss:// URL, with password and database if needed
                      (default redis://127.0.0.1:6379)
  -h, --help          show this text
`,
  mqtt: `Usage: sockkit mqtt pub|sub ...

  sockkit mqtt pub [--url URL] TOPIC MESSAGE [--qos 0|1|2] [--retain]
  sockkit mqtt sub [--url URL] FILTER [--qos 0|1|2] [--count N]

Run "sockkit mqtt pub --help" or "sockkit mqtt sub --help" for details.
`,
  "mqtt pub": `Usage: sockkit mqtt pub [--url mqtt://host[:port]] TOPIC MESSAGE [--qos 0|1|2] [--retain]

Publish one message and wait for its QoS flow to complete.

Options:
  --url URL           mqtt:// or mqtts:// URL (default mqtt://127.0.0.1:1883)
  --qos 0|1|2         quality of service (default 0)
  --retain            ask the broker to retain the message
  -h, --help          show this text
`,
  "mqtt sub": `Usage: sockkit mqtt sub [--url mqtt://host[:port]] FILTER [--qos 0|1|2] [--count N]

Subscribe to FILTER and print each message as "TOPIC PAYLOAD", one a line, until --count
messages arrived or SIGINT.

Options:
  --url URL           mqtt:// or mqtts:// URL (default mqtt://127.0.0.1:1883)
  --qos 0|1|2         maximum quality of service to subscribe with (default 0)
  --count N           exit 0 after N messages (default: run until SIGINT)
  -h, --help          show this text
`,
};

export const HELP = `sockkit: raw TCP for Workers and Node

Usage:
  sockkit gateway [--port 8787] [--host 127.0.0.1] [--allow HOST:PORTS]... [--token TOKEN] [--demo]
      Serve the gateway. --allow names a destination (e.g. 127.0.0.1:6379, [::1]:1883,
      10.0.0.0/8:6379,6380, db.internal:7000-7005). --demo also starts an MQTT broker
      (Aedes) and, if installed, redis-server on free ports, allows both, and prints curl lines.
      Rights: --tokens FILE, --redis-commands RULES or --read-only, --mqtt-publish FILTER,
      --mqtt-subscribe FILTER (see sockkit gateway --help).
  sockkit probe URL [--timeout MS]
      URL is redis://host[:port], mqtt://host[:port] or tcp://host:port (rediss://, mqtts:// for TLS).
  sockkit redis --url redis://host[:port] COMMAND [ARG]...
  sockkit mqtt pub --url mqtt://host[:port] TOPIC MESSAGE [--qos 0|1|2] [--retain]
  sockkit mqtt sub --url mqtt://host[:port] FILTER [--count N]
  sockkit help COMMAND, sockkit COMMAND --help
      A command's options in full.
  sockkit --version

${EXIT_CODES}
`;

/** A command's own page, ending with the exit codes every command shares. */
export function usageOf(command: CommandName): string {
  return `${COMMAND_USAGE[command]}\n${EXIT_CODES}\n`;
}

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_USAGE, name);
}
