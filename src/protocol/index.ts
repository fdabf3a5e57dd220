export * from "./frame.ts";
export * from "./limits.ts";
export * from "./messages.ts";
export * from "./write-queue.ts";
