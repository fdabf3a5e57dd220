/** `npm run bench`: every benchmark, each beside its baseline from the same run. */
import { benchCliStartup } from "./cli-startup.ts";
import { benchPing } from "./ping.ts";
import { printTable } from "./lib.ts";
import { benchServices } from "./services.ts";

const rows = [...(await benchPing()), ...(await benchCliStartup()), ...(await benchServices())];
printTable(rows);
