/** Dawn's adapter-start warnings, which it writes straight to the process's stderr (no
 * callback reaches them): on Mesa >= 24's lavapipe it reports two limits it lowers for
 * itself, and a rejected driver (Mesa 22's lavapipe) leaves a three-line block. Neither
 * is about the user's run. */
const NOISE_LINES = [
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/,
  /^Warning: Vulkan .* required\.$/,
  /^ - While initializing adapter \(backend=BackendType::Vulkan\)$/,
  /^ {4}at InitializeImpl \(.*PhysicalDeviceVk\.cpp:\d+\)$/,
];
const NOISE_STARTS = ['Warning: ', ' - While initializing adapter', '    at InitializeImpl ('];

const isNoise = (line: string) => NOISE_LINES.some((re) => re.test(line));
/** true while `text` could still grow into a noise line */
const mayBeNoise = (text: string) => NOISE_STARTS.some((s) => s.startsWith(text) || text.startsWith(s));

/** A stream filter that drops Dawn's adapter-start noise and passes everything else on
 * at once (progress lines redrawn with \r included); the blank line that ends a
 * rejected driver's block goes with it. */
export function dawnNoiseFilter(write: (text: string) => void): { push(chunk: string): void; end(): void } {
  let pending = '';
  let afterBlock = false;
  const line = (l: string) => {
    if (isNoise(l)) {
      afterBlock = /^ {4}at InitializeImpl/.test(l);
      return;
    }
    if (afterBlock && l === '') {
      afterBlock = false;
      return;
    }
    afterBlock = false;
    write(`${l}\n`);
  };
  return {
    push(chunk) {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        line(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      if (pending && !mayBeNoise(pending) && !(afterBlock && pending === '')) {
        write(pending);
        pending = '';
      }
    },
    end() {
      if (pending && !isNoise(pending)) write(pending);
      pending = '';
    },
  };
}
