import { defineCommand } from "citty";
import { LogStream, type LogLine } from "../../gen/adi/daemon/v1/daemon_pb.ts";
import { runningClient } from "../connect.ts";
import { usageError } from "../exit.ts";
import { out, paint } from "../output.ts";

function streamName(stream: LogStream): string {
  return stream === LogStream.STDERR ? "err" : stream === LogStream.SYSTEM ? "adi" : "out";
}

function formatLine(line: LogLine, json: boolean): string {
  if (json) {
    return JSON.stringify({ service: line.service, stream: streamName(line.stream), time: new Date(line.timeUnixMs).toISOString(), text: line.text });
  }
  const tag = streamName(line.stream);
  const colored = line.stream === LogStream.STDERR ? paint(1, "red", tag) : line.stream === LogStream.SYSTEM ? paint(1, "cyan", tag) : paint(1, "gray", tag);
  return `${paint(1, "gray", new Date(line.timeUnixMs).toISOString())} ${colored} ${line.text}`;
}

export default defineCommand({
  meta: { name: "logs", description: "Show a service's recent log lines, or follow them. Example: adi daemon logs web -n 50 -f" },
  args: {
    name: { type: "positional", required: true, description: "Service" },
    lines: { type: "string", alias: "n", description: "How many recent lines (default 100)" },
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines until Ctrl-C" },
    json: { type: "boolean", description: "One JSON object per line" },
  },
  async run({ args }) {
    const lines = args.lines === undefined ? 100 : Number(args.lines);
    if (!Number.isInteger(lines) || lines < 0) throw usageError(`-n expects a whole number, got ${JSON.stringify(args.lines)}`);
    const json = Boolean(args.json);
    const client = await runningClient();
    try {
      if (args.follow) {
        for await (const line of client.logs(args.name, { lines, follow: true })) out(formatLine(line, json));
      } else {
        for (const line of await client.logs(args.name, { lines })) out(formatLine(line, json));
      }
    } finally {
      client.close();
    }
  },
});
