// A real `flightdeck demo` for the browser tests: started on port 0 in a temporary home (never
// the developer's config, token or database), read back from the sign-in link it prints, and
// stopped after. Fresh sign-in links come from `flightdeck login`, as a lead would get them.
//
// FLIGHTDECK_BIN overrides the binary (default: <repo>/target/debug/flightdeck).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const bin = process.env.FLIGHTDECK_BIN
  ? path.resolve(repoRoot, process.env.FLIGHTDECK_BIN)
  : path.resolve(repoRoot, 'target/debug/flightdeck');
export const artifacts = path.resolve(repoRoot, 'tests/artifacts');
export const HEALTH_TIMEOUT_MS = 120_000;

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

/** The demo must not pick up the developer's own config, token or database. */
function isolatedEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const key of ['FLIGHTDECK_CONFIG', 'FLIGHTDECK_DATABASE_URL', 'FLIGHTDECK_TOKEN']) delete env[key];
  env.XDG_CONFIG_HOME = path.join(dir, 'config');
  env.XDG_DATA_HOME = path.join(dir, 'data');
  return env;
}

export class Demo {
  private output = '';
  base = '';
  firstLink = '';

  private constructor(
    private child: ChildProcess | null,
    readonly workDir: string,
  ) {}

  static async start(): Promise<Demo> {
    if (!existsSync(bin)) {
      throw new Error(
        `flightdeck binary not found at ${bin}.\n` +
          `Build it first (cargo build -p flightdeck-cli --features demo in ${repoRoot}) or point FLIGHTDECK_BIN at it.`,
      );
    }
    const workDir = mkdtempSync(path.join(tmpdir(), 'flightdeck-e2e-'));
    const child = spawn(bin, ['demo', '--dir', path.join(workDir, 'demo'), '--port', '0', '--no-open'], {
      cwd: workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: isolatedEnv(workDir),
    });
    const demo = new Demo(child, workDir);
    const collect = (chunk: Buffer) => {
      demo.output += chunk.toString();
      if (demo.output.length > 200_000) demo.output = demo.output.slice(-100_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('error', (e) => {
      demo.output += `\n[spawn error] ${e.message}\n`;
    });
    await demo.waitForLink();
    await demo.waitForServer();
    return demo;
  }

  /** The sign-in link the demo prints once it listens (it binds port 0: the OS picks a free
   * port at bind time, so no other process can take it between a probe and the bind). */
  private printedLink(): { base: string; link: string } | null {
    const m = this.output.match(/Flightdeck demo: ((http:\/\/127\.0\.0\.1:\d+)\/login\?code=[0-9a-f]+)/);
    return m ? { base: m[2], link: m[1] } : null;
  }

  private exited(): Error | null {
    const c = this.child;
    return c && c.exitCode !== null
      ? new Error(`flightdeck exited early with code ${c.exitCode}.\n--- output ---\n${this.output}`)
      : null;
  }

  private async waitForLink(): Promise<void> {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const printed = this.printedLink();
      if (printed) {
        this.base = printed.base;
        this.firstLink = printed.link;
        return;
      }
      const gone = this.exited();
      if (gone) throw gone;
      await sleep(200);
    }
    throw new Error(`flightdeck demo printed no address within ${HEALTH_TIMEOUT_MS / 1000}s.\n--- output ---\n${this.output}`);
  }

  private async waitForServer(): Promise<void> {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      const gone = this.exited();
      if (gone) throw gone;
      try {
        // Unsigned, the API answers 401: the server is up.
        const res = await fetch(`${this.base}/api/health`, { signal: AbortSignal.timeout(5_000) });
        if (res.status === 401) return;
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(500);
    }
    throw new Error(
      `GET ${this.base}/api/health did not answer 401 (up, not signed in) within ${HEALTH_TIMEOUT_MS / 1000}s (last: ${last}).\n--- output ---\n${this.output}`,
    );
  }

  /** A new one-time sign-in link, made the way a lead makes one: `flightdeck login`. */
  freshLink(): string {
    const out = execFileSync(
      bin,
      ['--database-url', path.join(this.workDir, 'demo', 'flightdeck.db'), 'login', '--url', this.base],
      { env: isolatedEnv(this.workDir), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const m = out.match(/http:\/\/\S+\/login\?code=[0-9a-f]+/);
    if (!m) throw new Error(`flightdeck login printed no link: ${out}`);
    return m[0];
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      const timedOut = await Promise.race([exited.then(() => false), sleep(5_000).then(() => true)]);
      if (timedOut) {
        c.kill('SIGKILL');
        await Promise.race([exited, sleep(2_000)]);
      }
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
