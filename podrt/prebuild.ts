/**
 * Builds the images a test run needs before its first pod starts (a build takes minutes; a
 * test's hooks do not wait that long), and prints what each one resolved and how long it took.
 * Used as the vitest globalSetup of the runtime and cluster suites.
 */
import { ensureImage } from './image-build';
import { resolveImage } from './image-catalog';

export async function prebuildImages(refs: readonly string[]): Promise<void> {
  for (const ref of refs) {
    const resolved = resolveImage(ref);
    if ('reason' in resolved) throw new Error(resolved.reason);
    const t0 = Date.now();
    const img = await ensureImage(resolved.source, (msg) => console.log(`image ${ref}: ${msg}`));
    const took = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`image ${ref}: ${img.source.recipe} on Debian ${img.source.suite}: ${img.packages.join(', ')} (${Number(took) > 1 ? `built in ${took} s` : `cached; built in ${img.buildSeconds} s`})`);
  }
}
