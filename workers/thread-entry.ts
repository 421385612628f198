/**
 * Where a training thread starts, in one function (STACK.md: tsx does not reach into worker_threads).
 * - Running from TypeScript sources (tsx: `npm start`, tests): the `.mjs` bootstrap, which registers tsx and
 *   imports `training-thread.ts`, whose URL it receives in argv.
 * - Running the build (`dist/workers/*.js`): `training-thread.js` beside this file, no loader.
 */
export function trainingThreadEntry(): { url: URL; argv: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return { url: new URL('./thread-bootstrap.mjs', here), argv: [new URL('./training-thread.ts', here).href] };
  }
  return { url: new URL('./training-thread.js', here), argv: [] };
}
