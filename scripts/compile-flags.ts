/**
 * A compiled Bun program reads `.env` and `bunfig.toml` from the directory it
 * is started in, unless told not to. For adi that would let any directory
 * change it: a `.env` with ADI_HOME (when not set already) pointed `adi daemon status` at another
 * daemon (and a daemon started there passed its variables to every service),
 * and a bunfig.toml `preload` ran its script inside adi, as whoever ran adi,
 * root included (test/cli/cwd-config.test.ts). adi's configuration is its
 * environment and ADI_HOME (docs/cli.md), nothing else. Not reading them also
 * saves two file lookups per run. The bench builds its compiled baselines
 * (hello-world, the idle server) with the same options.
 */
export const RUNTIME_CONFIG_OFF = { autoloadDotenv: false, autoloadBunfig: false } as const;
