import type { CommandMeta } from "citty";

/** A command's meta with its examples: `--help` prints them under EXAMPLES (see run.ts). */
export interface MetaWithExamples extends CommandMeta {
  examples: string[];
}

/**
 * Every command's help: a one-line description and at least one example.
 * citty has no examples section, so they ride on the meta object and
 * run.ts appends them to citty's usage text.
 */
export function meta(name: string, description: string, examples: string[]): MetaWithExamples {
  return { name, description, examples };
}

export function examplesOf(value: unknown): string[] {
  const examples = (value as Partial<MetaWithExamples> | undefined)?.examples;
  return Array.isArray(examples) ? examples : [];
}
