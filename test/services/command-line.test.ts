import { expect, test } from "bun:test";
import { commandLine } from "../../src/daemon/services/command-line.ts";
import { linesOf, lineTexts } from "../../src/daemon/services/line-bytes.ts";

// The log's "started pid N: CMD" line joined the argv with spaces: a newline in an argument (python3 -c
// code) made it several "adi" lines, and one of them that began "started pid 9" printed a fake
// restart separator in `adi daemon logs`.
test("a command is one line: plain words as they are, others quoted, control characters escaped", () => {
  expect(commandLine(["sleep", "1000"])).toBe("sleep 1000");
  expect(commandLine(["sh", "-c", "echo one; echo two"])).toBe("sh -c 'echo one; echo two'");
  expect(commandLine(["sh", "-c", "echo 'it'"])).toBe(`sh -c 'echo '\\''it'\\'''`);
  expect(commandLine(["python3", "-c", "import os\nstarted pid 9"])).toBe('python3 -c "import os\\nstarted pid 9"');
  expect(commandLine(["printf", ""])).toBe("printf ''");
  for (const argv of [["a\nb"], ["x", "\r\n", "\u2028"], ["tab\there"]]) expect(lineTexts(linesOf(commandLine(argv)))).toHaveLength(1);
});
