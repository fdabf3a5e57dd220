/** `npm run bench`: every benchmark, each beside its baseline from the same run. */
import { benchPing } from "./ping.ts";
import { printTable } from "./lib.ts";

const rows = [...(await benchPing())];
printTable(rows);
