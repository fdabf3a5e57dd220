// Baseline: the platform floor. A raw Bun unix-socket server echoing every byte.
const path = process.argv[2]!;
Bun.listen({
  unix: path,
  socket: {
    data(socket, chunk) {
      socket.write(chunk);
    },
  },
});
console.log("ready");
