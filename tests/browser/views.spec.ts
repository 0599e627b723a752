// End-to-end: the real backend (`flightdeck demo`) serving the built UI, driven by Chromium.
//
//   cargo build -p flightdeck-cli --features demo && npm --prefix ui run build && npm --prefix ui run e2e
//
// FLIGHTDECK_BIN overrides the binary (default: <repo>/target/debug/flightdeck).
import { expect, test, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { artifacts, Demo, HEALTH_TIMEOUT_MS } from './demo';

type ViewSpec = { name: string; letter: string; expectRows: boolean };
const VIEWS: ViewSpec[] = [
  { name: 'inbox', letter: 'i', expectRows: true },
  { name: 'changes', letter: 'c', expectRows: true },
  { name: 'work', letter: 'w', expectRows: true },
  { name: 'agents', letter: 'a', expectRows: true },
  { name: 'repos', letter: 'r', expectRows: true },
  { name: 'releases', letter: 'l', expectRows: true },
  { name: 'experiments', letter: 'e', expectRows: true },
  { name: 'spend', letter: 's', expectRows: true },
  { name: 'velocity', letter: 'v', expectRows: true },
  { name: 'audit', letter: 'u', expectRows: true }, // the demo's signed trail
];

let demo: Demo;
let baseURL = '';
let firstLink = '';

test.beforeAll(async () => {
  test.setTimeout(HEALTH_TIMEOUT_MS + 30_000);
  demo = await Demo.start();
  baseURL = demo.base;
  firstLink = demo.firstLink;
});

test.afterAll(async () => {
  await demo?.stop();
});

async function expectViewContent(page: Page, view: ViewSpec) {
  const root = page.getByTestId(`view-${view.name}`);
  await expect(root).toBeVisible();
  // Loading is over when rows, the empty state or an error shows.
  const settled = root.locator('[data-testid="row"], [data-testid="empty"], [data-testid="error"]').first();
  await expect(settled).toBeVisible();
  await expect(root.getByTestId('error'), `${view.name} shows an error`).toHaveCount(0);
  if (view.expectRows) {
    expect(await root.getByTestId('row').count(), `${view.name} shows rows from the demo data`).toBeGreaterThan(0);
  } else {
    const rows = await root.getByTestId('row').count();
    const empty = await root.getByTestId('empty').count();
    expect(rows + empty, `${view.name} shows rows or the empty state`).toBeGreaterThan(0);
  }
}

async function expectImageLoaded(page: Page, testId: string) {
  const img = page.getByTestId(testId);
  await expect(img).toBeVisible();
  await expect
    .poll(() => img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth), {
      message: `${testId} image loads`,
    })
    .toBeGreaterThan(0);
}

test('every view renders the demo data without errors', async ({ page }) => {
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

  // Signed out, the API refuses the page; the printed link signs it in and lands on the UI
  // with the code gone from the address bar; used again, the link opens nothing.
  const refused = await page.request.get(`${baseURL}/api/inbox`);
  expect(refused.status()).toBe(401);
  await page.goto(firstLink);
  await expect(page).toHaveURL(`${baseURL}/`);
  await expect(page.getByTestId('view-inbox')).toBeVisible();
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name.startsWith('flightdeck_session'));
  expect(session?.httpOnly, 'the session cookie is HttpOnly').toBe(true);
  expect(session?.sameSite).toBe('Strict');
  const replayed = await page.request.get(firstLink, { maxRedirects: 0 });
  expect(replayed.status()).toBe(401);
  await expect(page.getByText('Flightdeck').first()).toBeVisible();

  for (const [i, view] of VIEWS.entries()) {
    if (i % 2 === 0) {
      await page.getByTestId(`nav-${view.name}`).click();
    } else {
      // Keyboard: g then the view's letter. Blur the clicked link first so keys go to the page.
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.keyboard.press('g');
      await page.keyboard.press(view.letter);
    }
    await expect(page).toHaveURL(new RegExp(`#/${view.name}$`));
    await expectViewContent(page, view);
    if (view.name === 'spend') await expectImageLoaded(page, 'chart-spend');
    if (view.name === 'experiments') {
      // The demo's three: a clear win (ready), a peeked one the always-valid test holds back,
      // and a sample-ratio mismatch.
      const root = page.getByTestId('view-experiments');
      await expect(root.getByTestId('srm-flag')).toHaveCount(1);
      await expect(root.getByTestId('ready')).toHaveCount(1);
      await expect(root.getByTestId('scorecard').first()).toContainText('Always-valid');
      // The ready one is shipped from here: its winner, signed, shown as decided.
      const ready = root.getByTestId('row').filter({ hasText: 'Agent PR description template' });
      const card = root.getByTestId('scorecard').filter({ hasText: 'first_pass_approval' });
      await expect(ready).toHaveCount(1);
      // Behind it: the agent change whose diff put its flag in code, with its cost and deploy.
      // Each metric says the smallest lift its sample detects.
      await expect(card).toContainText('detects ±');
      const forest = card.getByTestId('forest-plot');
      await expect(forest).toBeVisible();
      await expect
        .poll(() => forest.evaluate((el) => (el as HTMLImageElement).naturalWidth), { message: 'forest plot loads' })
        .toBeGreaterThan(0);
      // Cumulative lift day by day, of the metric picked (the primary first; the guardrail next).
      const cumulative = card.getByTestId('cumulative-plot');
      const loaded = () => cumulative.evaluate((el) => (el as HTMLImageElement).naturalWidth);
      await expect.poll(loaded, { message: 'cumulative lift loads' }).toBeGreaterThan(0);
      await card.getByTestId('cumulative-metric').selectOption('review_minutes');
      await expect(cumulative).toHaveAttribute('src', /metric=review_minutes/);
      await expect.poll(loaded, { message: 'the guardrail\'s cumulative lift loads' }).toBeGreaterThan(0);
      const work = card.getByTestId('experiment-work');
      await expect(work).toContainText('Behind it: 1 change');
      await expect(work).toContainText('agent_pr_template_enabled');
      await expect(work).toContainText('per point of lift');
      await card.getByRole('button', { name: 'Ship winner' }).click();
      await expect(card.getByTestId('experiment-decision')).toContainText('ship treatment by');
    }
    if (view.name === 'velocity') {
      await expectImageLoaded(page, 'chart-velocity');
      // Work items done per week by agents and by people.
      await expect(page.getByTestId('work-throughput')).toContainText('By agents');
      // Per person (the demo's machine user) over the last 30 days: its merged agent work.
      await expect(page.getByTestId('team-figures')).toContainText('Agent spend');
      await expect(page.getByTestId('team-figures')).toContainText('demo');
      // "Mine": the review queue narrows to reviews asked of this person (none in the demo)
      // and comes back when turned off.
      await page.keyboard.press('g');
      await page.keyboard.press('c');
      const changes = page.getByTestId('view-changes');
      await expect(changes.getByTestId('row').first()).toBeVisible();
      const everyone = await changes.getByTestId('row').count();
      await page.getByTestId('mine-toggle').check();
      await expect.poll(() => changes.getByTestId('row').count()).toBeLessThan(everyone);
      await page.getByTestId('mine-toggle').uncheck();
      await expect.poll(() => changes.getByTestId('row').count()).toBe(everyone);
      // Keys go to the view again, not the checkbox.
      await page.getByTestId('mine-toggle').blur();
      await page.keyboard.press('g');
      await page.keyboard.press('v');
      await expect(page.getByTestId('view-velocity')).toBeVisible();
      // The DORA keys from the demo's deploy history.
      await expect(page.getByTestId('dora')).toContainText('Change failure rate');
      // The demo's incident issue is counted against the deploy before it.
      await expect(page.getByTestId('incident-issues')).toHaveText('1');
      // How lead times spread, agents vs people.
      await expectImageLoaded(page, 'chart-lead-time');
      // Agents vs people, and who carries the review load.
      await expect(page.getByTestId('split').locator('tr', { hasText: 'Agents' })).toBeVisible();
      await expect(page.getByTestId('review-load')).toContainText('Reviewer');
      // Cycle time by phase from the demo's merged history, its charts, and the weekly page.
      const cycle = page.getByTestId('cycle');
      await expect(cycle).toContainText('pickup');
      await expect(cycle.locator('tr', { hasText: 'review' }).first()).not.toContainText('—');
      await expectImageLoaded(page, 'chart-cycle');
      await expectImageLoaded(page, 'chart-merged');
      const href = (await page.getByTestId('weekly-report').getAttribute('href')) ?? '';
      const weekly = await page.request.get(new URL(href, page.url()).toString());
      expect(weekly.ok()).toBe(true);
      expect((await weekly.text()).match(/<svg/g)?.length).toBe(3);
    }
    if (view.name === 'releases') {
      // Per environment: what is live (staging is a release ahead of production).
      await expect(page.getByTestId('environments')).toContainText('production');
      // The pending release: what it holds, approved here (signed; no GitHub run waits on it).
      const pending = page.getByTestId('view-releases').getByTestId('row').filter({ hasText: 'pending' }).first();
      await pending.click();
      await page.keyboard.press('Enter');
      const panel = page.getByTestId('release-detail');
      await expect(panel).toContainText('commits over');
      await panel.getByRole('button', { name: 'Approve release' }).click();
      await expect(page.getByTestId('release-notice')).toContainText('approved: signed in the audit log');
      // A production deploy opened: what it shipped, each change with its reviews, checks,
      // cost and policy verdict.
      const deploy = page.getByTestId('deployment').filter({ hasText: 'production' }).first();
      await deploy.getByRole('button', { name: /[0-9a-f]{7}/ }).click();
      const shipped = page.getByTestId('deploy-detail');
      await expect(shipped).toContainText('commits over');
      await expect(shipped.getByTestId('deploy-change').first()).toBeVisible();
      await expect(shipped.getByTestId('deploy-change').first()).toContainText(/pass|blocked/);
    }
    if (view.name === 'repos') await expectImageLoaded(page, 'chart-agent-share');
    if (view.name === 'audit') {
      // The demo's trail is signed and chained: the view says it is intact.
      await expect(page.getByTestId('audit-integrity')).toHaveAttribute('data-ok', 'true');
    }
    if (view.name === 'inbox') {
      // The demo has one session waiting for its user.
      const waiting = page.getByTestId('view-inbox').getByTestId('row').filter({ hasText: /needs you/i });
      expect(await waiting.count(), 'inbox shows a "needs you" item').toBeGreaterThan(0);
    }
    // Full page unless the list is very long (thousands of audit entries make huge PNGs).
    const tall = await page.evaluate(() => document.documentElement.scrollHeight > 6000);
    await page.screenshot({ path: path.join(artifacts, `ui-${view.name}.png`), fullPage: !tall });
  }

  // j twice in Changes selects the second row.
  await page.getByTestId('nav-changes').click();
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const changes = page.getByTestId('view-changes');
  await expect(changes.getByTestId('row').first()).toBeVisible();
  const rowCount = await changes.getByTestId('row').count();
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  const expected = Math.min(1, rowCount - 1);
  await expect(changes.getByTestId('row').nth(expected)).toHaveAttribute('aria-selected', 'true');
  await expect(changes.locator('[data-testid="row"][aria-selected="true"]')).toHaveCount(1);
  await page.screenshot({ path: path.join(artifacts, 'ui-changes.png'), fullPage: true });

  // The review queue by default; the merged history one click away.
  const filter = changes.getByTestId('changes-filter');
  await expect(filter.getByRole('button', { name: /^Open/ })).toHaveAttribute('aria-pressed', 'true');
  const openRows = await changes.getByTestId('row').count();
  await expect(changes.getByTestId('row').filter({ hasText: 'merged' })).toHaveCount(0);
  await filter.getByRole('button', { name: /^Merged & closed/ }).click();
  await expect(changes.getByTestId('row').first()).toContainText('merged');
  const decidedRows = await changes.getByTestId('row').count();
  expect(decidedRows).toBeGreaterThan(10);
  await filter.getByRole('button', { name: /^All/ }).click();
  await expect(changes.getByTestId('row')).toHaveCount(openRows + decidedRows);
  await filter.getByRole('button', { name: /^Open/ }).click();
  await expect(changes.getByTestId('row')).toHaveCount(openRows);

  // The demo's fake GitHub: pull requests synced beside the local agent branches.
  await expect(changes.getByTestId('github-status')).toContainText('5 open pull requests');
  // The review asked of the lead by name is in the inbox.
  await page.getByTestId('nav-inbox').click();
  await expect(page.getByTestId('view-inbox').getByTestId('row').filter({ hasText: 'Review requested: Document the public API' })).toHaveCount(1);
  await page.getByTestId('nav-changes').click();
  const refunds = changes.getByTestId('row').filter({ hasText: 'Make refunds idempotent' });
  await expect(refunds).toHaveCount(1);
  // Approving it goes to (the fake) GitHub as a review.
  await refunds.dblclick();
  await changes.getByTestId('decisions').getByRole('button', { name: /^Approve/ }).click();
  await expect(changes.getByTestId('decision-notice')).toContainText('approve: review');
  // Its diff comes from GitHub's files list.
  const prDiff = changes.getByTestId('diff-view');
  await prDiff.getByTestId('diff-file').first().getByRole('button').click();
  await expect(prDiff.getByTestId('diff-hunks').first().locator('tr.ins').first()).toBeVisible();
  await refunds.dblclick();

  // The review loop: an agent change is blocked until a person approves it, then merges.
  const invoice = changes.getByTestId('row').filter({ hasText: 'Round invoice lines half-even' });
  await invoice.dblclick();
  // The agent run behind it, in brief, linking to its details.
  await expect(changes.getByTestId('linked-runs').locator('a').first()).toHaveAttribute('href', /#\/agents\?run=/);
  // Its diff: the files, one opened to its highlighted hunks.
  const diff = changes.getByTestId('diff-view');
  await expect(diff.getByTestId('diff-file').first()).toBeVisible();
  await diff.getByTestId('diff-file').first().getByRole('button').click();
  await expect(diff.getByTestId('diff-hunks').first()).toBeVisible();
  await expect(diff.getByTestId('diff-hunks').first().locator('tr.ins').first()).toBeVisible();
  const decisions = changes.getByTestId('decisions');
  await expect(decisions.getByTestId('verdict')).toHaveAttribute('data-pass', 'false');
  await expect(decisions.getByTestId('merge-blocked')).toContainText('0 of 1 human approvals');
  await expect(decisions.getByRole('button', { name: /^Merge/ })).toBeDisabled();
  await decisions.getByRole('button', { name: /^Approve/ }).click();
  await expect(changes.getByTestId('decision-notice')).toContainText('approve: approved at');
  await expect(decisions.getByTestId('verdict')).toHaveAttribute('data-pass', 'true');
  await page.screenshot({ path: path.join(artifacts, 'ui-changes-approved.png'), fullPage: true });
  await decisions.getByRole('button', { name: /^Merge/ }).click();
  await expect(changes.getByTestId('decision-notice')).toContainText('merge: fast-forward to');
  // Merged, it leaves the review queue (its panel with it) and shows under "Merged & closed".
  await expect(invoice).toHaveCount(0);
  await expect(changes.getByTestId('decisions')).toHaveCount(0);
  await filter.getByRole('button', { name: /^Merged & closed/ }).click();
  await expect(invoice).toContainText('merged');
  await filter.getByRole('button', { name: /^Open/ }).click();

  // The work item the rate-limiting branch works on.
  const limiter = changes.getByTestId('row').filter({ hasText: 'Add token-bucket rate limiter' });
  await limiter.dblclick();
  await expect(changes.getByTestId('work-items')).toContainText('W-demo0001');
  await limiter.dblclick();

  // Labels and mergeability from GitHub: the Stripe upgrade conflicts.
  const stripe = changes.getByTestId('row').filter({ hasText: 'Upgrade the Stripe client' });
  await expect(stripe.getByTestId('label')).toHaveText('dependencies');
  await expect(stripe).toContainText('conflicts');
  // Its merge is refused by GitHub (405): the outbox shows it failed; retried, then dismissed.
  await stripe.dblclick();
  await expect(changes.getByTestId('mergeable')).toHaveText('conflicts');
  await changes.getByTestId('decisions').getByRole('button', { name: /^Merge/ }).click();
  await expect(changes.getByTestId('decision-notice')).toContainText('merge failed: GitHub 405');
  const outbox = changes.getByTestId('outbox');
  await expect(outbox).toContainText('1 failed');
  await outbox.getByRole('button', { name: 'Retry' }).click();
  await expect(changes.getByTestId('decision-notice')).toContainText('merge failed: GitHub 405');
  await outbox.getByRole('button', { name: 'Dismiss' }).click();
  await expect(changes.getByTestId('decision-notice')).toContainText('merge dismissed');
  await expect(changes.getByTestId('outbox')).toHaveCount(0);
  // Closing it instead, after a confirmation.
  await changes.getByTestId('decisions').getByRole('button', { name: 'Close…' }).click();
  await changes.getByTestId('decisions').getByRole('button', { name: 'Close without merging' }).click();
  await expect(changes.getByTestId('decision-notice')).toContainText('close: closed');

  // Bulk: x marks the selected row; a then approves every marked one.
  for (const title of ['Fix flaky date test in the checkout form', 'Document the public API with OpenAPI']) {
    await changes.getByTestId('row').filter({ hasText: title }).click();
    await page.keyboard.press('x');
  }
  await expect(changes.getByTestId('bulk-bar')).toContainText('2 marked');
  await page.keyboard.press('a');
  await expect(changes.getByTestId('decision-notice')).toContainText('approved 2 of 2');
  await expect(changes.getByTestId('bulk-bar')).toHaveCount(0);
  // The decisions are in the signed audit log.
  await page.getByTestId('nav-audit').click();
  const audit = page.getByTestId('view-audit');
  await expect(audit.getByTestId('row').first()).toContainText('approve applied');
  for (const action of ['merge applied', 'merge failed', 'merge retry', 'merge dismiss', 'close applied']) {
    await expect(audit.getByTestId('row').filter({ hasText: action }).first()).toBeVisible();
  }
  await expect(page.getByTestId('audit-integrity')).toHaveAttribute('data-ok', 'true');

  // Agents: j then Enter opens the first run's detail panel (with its cost); Escape closes it.
  await page.getByTestId('nav-agents').click();
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const agents = page.getByTestId('view-agents');
  await expect(agents.getByTestId('row').first()).toBeVisible();
  await page.keyboard.press('j');
  await expect(agents.getByTestId('row').first()).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Enter');
  const detail = page.getByTestId('run-detail');
  await expect(detail).toBeVisible();
  await expect(detail).toHaveAttribute('data-state', 'loaded');
  await expect(detail.getByTestId('run-cost')).toHaveText(/\$\d/);
  await expect(detail.getByTestId('run-detail-error')).toHaveCount(0);
  // Its activity, read from the demo's real session log: prompts and tool calls, filterable.
  const activity = detail.getByTestId('run-activity');
  await expect(activity.locator('li[data-kind="prompt"]').first()).toBeVisible();
  const toolCount = await activity.locator('li[data-kind="tool"]').count();
  expect(toolCount).toBeGreaterThan(0);
  await activity.getByRole('button', { name: /Tool calls/ }).click();
  await expect(activity.locator('li[data-kind="prompt"]')).toHaveCount(0);
  await expect(activity.locator('li[data-kind="tool"]')).toHaveCount(toolCount);
  await expect(activity.locator('li').first()).toHaveAttribute('title', /\.jsonl:\d+$/);
  await page.screenshot({ path: path.join(artifacts, 'ui-agents-run.png'), fullPage: true });
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('run-detail')).toHaveCount(0);

  // Spend: the demo's team budget, about 60 % used, with its forecast; its 50 % alert in the inbox.
  await page.getByTestId('nav-spend').click();
  const budget = page.getByTestId('view-spend').getByTestId('budget');
  await expect(budget).toHaveCount(1);
  await expect(budget).toContainText('month end ~');
  await expect(budget).toContainText('alerts: 50 %');
  // Vendor concentration, and what stops when a vendor is down.
  const conc = page.getByTestId('concentration');
  await expect(conc).toContainText('spend HHI');
  await conc.getByLabel('Vendor down').selectOption('anthropic');
  await expect(conc.getByTestId('if-down')).toContainText('Agents that stop: claude-code');
  // What it bought: the invoice change merged above counts.
  await expect(page.getByTestId('value')).toContainText('merged agent changes');
  // The demo's (fake) vendor billing, 12 % above what the logs cost.
  const recon = page.getByTestId('reconciliation');
  await expect(recon.getByTestId('recon-row')).toHaveCount(2);
  await expect(recon.getByTestId('recon-row').first()).toContainText('anthropic');
  await page.screenshot({ path: path.join(artifacts, 'ui-spend.png'), fullPage: true });
  await page.getByTestId('nav-inbox').click();
  await expect(page.getByTestId('view-inbox').getByTestId('row').filter({ hasText: 'Budget team: 50 % reached' })).toHaveCount(1);

  // The help overlay opens with ? and closes with Escape.
  await page.keyboard.press('?');
  await expect(page.getByTestId('help')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('help')).toHaveCount(0);

  expect(problems, problems.join('\n')).toEqual([]);
});

test('work board: dispatch by key, reassign by key and by drag, cancel, send a change back', async ({ page }) => {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  const blur = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.goto(demo.freshLink());
  await expect(page).toHaveURL(`${baseURL}/`);
  await page.goto(`${baseURL}/#/work`);
  const work = page.getByTestId('view-work');
  const column = (a: string) => work.locator(`[data-testid="board-column"][data-assignee="${a}"]`);
  const card = (id: string) => work.locator(`[data-work="${id}"]`);
  // Columns by assignee with their load; the demo's agents are fakes that need no model.
  await expect(column('agent:claude')).toContainText('Add a /health endpoint');
  await expect(column('agent:slowpoke')).toBeVisible();
  await expect(column('person:Carol Diaz').getByTestId('load')).toHaveText('1 open · 0 in review');
  // GitHub issues of the watched repos are work items too, with their assignee and labels.
  await expect(column('person:bob-chen')).toContainText('Pagination links are wrong past page 10', { timeout: 30_000 });
  await expect(column('agent:claude')).toContainText('Add request ids to every log line');

  // d dispatches the selected item to its agent: a worktree, a branch, its output live.
  await card('W-demo0002').click();
  await blur();
  await page.keyboard.press('d');
  await expect(work.getByTestId('work-notice')).toContainText('dispatched to claude');
  const log = work.getByTestId('dispatch-log');
  await expect(log).toContainText('fake agent: committed', { timeout: 30_000 });
  await expect(card('W-demo0002')).toContainText('claude succeeded');
  await expect(card('W-demo0002')).toContainText('in review');
  await expect(work.getByTestId('work-links')).toContainText('change');
  await page.screenshot({ path: path.join(artifacts, 'ui-work.png'), fullPage: true });

  // ] hands Carol's item to the next column; a drag hands it to another.
  const order = await work
    .locator('[data-testid="board-column"]')
    .evaluateAll((cols) => cols.map((c) => c.getAttribute('data-assignee') ?? ''));
  const next = order[order.indexOf('person:Carol Diaz') + 1];
  await card('W-demo0003').click();
  await blur();
  await page.keyboard.press(']');
  await expect(column(next).locator('[data-work="W-demo0003"]')).toHaveCount(1);
  await card('W-demo0003').dragTo(column('agent:slowpoke'));
  await expect(column('agent:slowpoke').locator('[data-work="W-demo0003"]')).toHaveCount(1);
  // slowpoke never finishes: it runs until cancelled, and the cancel shows.
  await card('W-demo0003').click();
  const detail = work.getByTestId('work-detail');
  await detail.getByRole('button', { name: 'Dispatch to slowpoke' }).click();
  await expect(card('W-demo0003')).toContainText('slowpoke running');
  await expect(log).toContainText('waiting for the model');
  await detail.getByRole('button', { name: /^Cancel D-/ }).click();
  await expect(card('W-demo0003')).toContainText('slowpoke cancelled');

  // Send back: the change the dispatch made gets review comments; the agent commits again on
  // the same branch and the change shows the new head.
  await page.getByTestId('nav-changes').click();
  const changes = page.getByTestId('view-changes');
  const made = changes.getByTestId('row').filter({ hasText: 'w-demo0002' });
  await expect(made).toHaveCount(1, { timeout: 20_000 });
  await made.dblclick();
  const head = changes.getByTestId('head-sha');
  const before = await head.innerText();
  const decisions = changes.getByTestId('decisions');
  await decisions.getByLabel('Comment').fill('Also report the git sha.');
  await expect(decisions.getByLabel('Send back to')).toHaveValue('claude');
  await decisions.getByRole('button', { name: 'Request changes and send back to' }).click();
  await expect(changes.getByTestId('decision-notice')).toContainText('sent back to claude');
  await expect(head).not.toHaveText(before, { timeout: 30_000 });
  await page.getByTestId('nav-audit').click();
  await expect(page.getByTestId('view-audit').getByTestId('row').filter({ hasText: 'work send back' }).first()).toBeVisible();
  expect(problems).toEqual([]);
});

test('notifications: the panel shows the demo channels, what they were sent, and sends a test', async ({ page }) => {
  await page.goto(demo.freshLink());
  await page.getByTestId('open-notifications').click();
  const panel = page.getByTestId('notifications');
  const channels = panel.getByTestId('notify-channel');
  await expect(channels).toHaveCount(4);
  await expect(channels.filter({ hasText: 'lead@demo.invalid via smtp://127.0.0.1' })).toContainText('ready');
  await expect(channels.filter({ hasText: 'C0DEMOLEADS via http://127.0.0.1' })).toContainText('slack');
  await expect(channels.filter({ hasText: 'team-hook' })).toContainText('ready');
  await expect(channels.filter({ hasText: 'phone' })).toContainText('ntfy');
  await expect(panel.getByTestId('notify-rules')).toContainText('* of every repo → team-hook');
  // The demo's inbox went out: single messages, and the rest past ten an hour in a digest.
  const rows = panel.getByTestId('notify-row');
  await expect(rows.filter({ hasText: 'sent (digest)' }).first()).toBeVisible();
  const tests = rows.filter({ hasText: 'Test from Flightdeck' });
  const before = await tests.count();
  await channels.filter({ hasText: 'team-hook' }).getByRole('button', { name: 'Send a test' }).click();
  await expect(panel).toContainText('A test to team-hook is on its way');
  // Sent in the background; the panel hears it on the event stream and shows it sent.
  await expect.poll(() => tests.filter({ hasText: 'sent' }).count()).toBe(before + 1);
});
