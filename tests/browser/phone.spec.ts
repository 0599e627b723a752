// The phone: a 390×844 touch screen paired from the desk's Devices panel (the QR code's link:
// SPAKE2 in the page, a key of the phone's own that signs every request and decision),
// reading the inbox and a
// change's review page (summary, verdict, runs, a diff whose long lines scroll inside it, never
// the page), approving it with a tap; then, with no connection, approving a release and another
// change, kept on the phone and applied exactly once when it is back online; a decision whose
// answer is lost on the way back is sent again and still applied once; the audit log holds the
// phone's signature of each. Screenshots in tests/artifacts/phone-*.png.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { artifacts, Demo, HEALTH_TIMEOUT_MS } from './demo';

const PHONE = { width: 390, height: 844 };

test.use({
  viewport: PHONE,
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
});

let demo: Demo;

test.beforeAll(async () => {
  test.setTimeout(HEALTH_TIMEOUT_MS + 30_000);
  demo = await Demo.start();
});

test.afterAll(async () => {
  await demo?.stop();
});

/** The page itself never scrolls sideways: whatever is wide scrolls inside its own box. (Against
 * the phone's width, not `innerWidth`: a mobile browser widens its layout viewport to fit a page
 * that is too wide, and zooms out.) */
async function expectNoSidewaysScroll(page: Page, where: string) {
  const width = PHONE.width;
  const { scroll, inner, wide } = await page.evaluate((w) => {
    // The innermost elements that reach past the screen's edge, to say what is too wide.
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > w + 1 && ![...el.children].some((c) => c.getBoundingClientRect().right > w + 1))
      .filter((el) => !el.closest('table.diff, .sidebar'))
      .slice(0, 5)
      .map((el) => `<${el.tagName.toLowerCase()} class="${el.className}">${(el.textContent ?? '').slice(0, 40)}`);
    return { scroll: document.documentElement.scrollWidth, inner: window.innerWidth, wide };
  }, width);
  expect(scroll, `${where}: the page is ${scroll}px wide on a ${width}px screen: ${wide.join(' | ')}`).toBeLessThanOrEqual(width);
  expect(inner, `${where}: the browser zoomed out to ${inner}px`).toBeLessThanOrEqual(width);
}

/** A touch target at least 44 px each way (Apple's and Google's guidance). */
async function expectTouchSize(locator: Locator, what: string) {
  const box = await locator.boundingBox();
  expect(box, `${what} is on screen`).not.toBeNull();
  expect(box!.height, `${what} is ${box!.height}px tall`).toBeGreaterThanOrEqual(44);
  expect(box!.width, `${what} is ${box!.width}px wide`).toBeGreaterThanOrEqual(44);
}

test('phone: paired by QR, review and approve with a tap; decide offline, applied once on reconnect', async ({ page, browser }) => {
  mkdirSync(artifacts, { recursive: true });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

  // At the desk: signed in with the printed link, the lead pairs a phone from the Devices panel.
  const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const deskPage = await desk.newPage();
  await deskPage.goto(demo.firstLink);
  await deskPage.getByTestId('open-devices').click();
  const devices = deskPage.getByTestId('devices');
  await devices.getByLabel('Device name').fill("Ana's phone");
  await devices.getByRole('button', { name: 'Pair' }).click();
  await expect(devices.getByTestId('pairing').locator('img.qr')).toBeVisible();
  const pairUrl = (await devices.getByTestId('pairing-url').innerText()).trim();
  // The code is in the fragment: browsers never send it, the phone proves it holds it (SPAKE2).
  expect(pairUrl).toMatch(/\/pair#[0-9a-f]{12}\.[0-9a-f]{32}$/);
  await deskPage.screenshot({ path: path.join(artifacts, 'desk-pair.png') });

  // The phone opens the QR's link: paired as the device it was named for, with its own key.
  const sentCode: string[] = [];
  page.on('request', (r) => {
    if ((r.url() + (r.postData() ?? '')).includes(pairUrl.split('.').pop()!)) sentCode.push(r.url());
  });
  await page.goto(pairUrl);
  await expect(page.getByTestId('pair-result')).toContainText("Paired as Ana's phone");
  const phoneKey = /key ([0-9a-f]{16})/.exec(await page.getByTestId('pair-result').innerText())?.[1] ?? 'no fingerprint shown';
  await page.screenshot({ path: path.join(artifacts, 'phone-paired.png') });
  await page.getByTestId('pair-continue').tap();
  await expect(page).toHaveURL(`${demo.base}/`);
  expect(sentCode, 'the pairing secret never left the phone').toEqual([]);
  await deskPage.getByRole('button', { name: 'Pair' }).press('Escape');
  await deskPage.reload();
  await deskPage.getByTestId('open-devices').click();
  const paired = deskPage.getByTestId('device').filter({ hasText: "Ana's phone" });
  await expect(paired).toHaveCount(1);
  // The desk shows the key the phone made: the fingerprint the phone showed when it paired.
  await expect(paired.getByTestId('device-key')).toContainText(phoneKey);
  // Its session cookie alone drives nothing: a request the page did not sign is refused.
  const unsigned = await page.request.get(`${demo.base}/api/inbox`);
  expect(unsigned.status()).toBe(403);
  expect(((await unsigned.json()) as { error: { code: string } }).error.code).toBe('bad_signature');
  const inbox = page.getByTestId('view-inbox');
  await expect(inbox.getByTestId('row').first()).toBeVisible();
  await expectNoSidewaysScroll(page, 'inbox');
  await page.screenshot({ path: path.join(artifacts, 'phone-inbox.png') });

  await page.getByTestId('nav-changes').tap();
  const changes = page.getByTestId('view-changes');
  const row = changes.getByTestId('row').filter({ hasText: 'claude/add-rate-limiting' });
  await expect(row).toBeVisible();
  await expectNoSidewaysScroll(page, 'changes');
  await page.screenshot({ path: path.join(artifacts, 'phone-changes.png') });

  // A tap opens the review page: summary, verdict, runs and cost, the diff.
  await row.tap();
  const decisions = changes.getByTestId('decisions');
  await expect(decisions).toBeVisible();
  await expect(changes.getByTestId('verdict')).toBeVisible();
  await expect(changes.getByTestId('linked-runs')).toContainText('$');
  const diff = changes.getByTestId('diff-view');
  await expect(diff.getByTestId('diff-file').first()).toBeVisible();
  await expectTouchSize(diff.locator('.diff-file-head').first(), 'a diff file header');
  await diff.locator('.diff-file-head').first().tap();
  const hunks = diff.getByTestId('diff-hunks').first();
  await expect(hunks).toBeVisible();
  await expectNoSidewaysScroll(page, 'review page with a file open');
  // Long lines keep their shape and scroll inside the hunk.
  const whiteSpace = await hunks.locator('td.code').first().evaluate((el) => getComputedStyle(el).whiteSpace);
  expect(whiteSpace).toBe('pre');
  // Line numbers beside their line, not above it.
  const line = hunks.locator('tr.ins').first();
  const num = await line.locator('td.ln').last().boundingBox();
  const code = await line.locator('td.code').boundingBox();
  expect(Math.abs(num!.y - code!.y), 'a line number and its code share a row').toBeLessThan(2);
  expect(code!.x).toBeGreaterThan(num!.x);
  await hunks.screenshot({ path: path.join(artifacts, 'phone-hunk.png') });
  await page.screenshot({ path: path.join(artifacts, 'phone-review.png'), fullPage: true });

  const approve = decisions.getByRole('button', { name: /^Approve/ });
  await expectTouchSize(approve, 'Approve');
  await approve.tap();
  await expect(changes.getByTestId('decision-notice')).toContainText('approve');
  await expectNoSidewaysScroll(page, 'after approving');
  await page.screenshot({ path: path.join(artifacts, 'phone-approved.png') });

  // Releases: readable on the phone too; the pending one opened while still online.
  await page.getByTestId('nav-releases').tap();
  const releases = page.getByTestId('view-releases');
  const pendingRelease = releases.getByTestId('row').filter({ hasText: 'pending' }).first();
  await expect(pendingRelease).toBeVisible();
  const releaseId = await pendingRelease.locator('span.strong').getAttribute('title');
  expect(releaseId).toBeTruthy();
  await pendingRelease.tap();
  const releaseDetail = releases.getByTestId('release-detail');
  await expect(releaseDetail).toBeVisible();
  await expectNoSidewaysScroll(page, 'releases');
  await page.screenshot({ path: path.join(artifacts, 'phone-releases.png') });

  // Installable: a manifest, and the service worker that keeps the shell is in control.
  const manifest = await page.request.get(`${demo.base}/manifest.webmanifest`);
  expect(((await manifest.json()) as { display: string }).display).toBe('standalone');
  await expect
    .poll(() => page.evaluate(() => navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)))
    .toBe(true);

  // The open changes' diffs were kept in the background while online (wait for the one read
  // offline below, so a slow machine does not race it).
  // Checked from the desk (a browser session): the phone's own requests are signed in its page.
  const get = async <T,>(p: string) => (await (await deskPage.request.get(`${demo.base}${p}`)).json()) as T;
  const { changes: rows } = await get<{ changes: { change: { id: string; title: string; state: string } }[] }>('/api/changes');
  const flaky = rows.find((r) => r.change.title === 'Fix flaky date test in the checkout form')!.change.id;
  const keptDiff = `flightdeck.kept:/api/changes/${encodeURIComponent(flaky)}/diff?page=1`;
  await expect.poll(() => page.evaluate((k) => localStorage.getItem(k) !== null, keptDiff)).toBe(true);

  // No connection: the release approved and another change approved are kept on the phone.
  await page.context().setOffline(true);
  const approveRelease = releaseDetail.getByRole('button', { name: 'Approve release' });
  await expectTouchSize(approveRelease, 'Approve release');
  await approveRelease.tap();
  await expect(releases.getByTestId('release-notice')).toContainText('kept on this device');
  await page.getByTestId('nav-changes').tap();
  const other = changes.getByTestId('row').filter({ hasText: 'Fix flaky date test in the checkout form' });
  await other.tap();
  // Its review page reads from what the phone kept: the diff too, fetched in the background.
  await expect(page.getByTestId('offline-banner')).toContainText('No connection');
  await expect(changes.getByTestId('diff-view').getByTestId('diff-file').first()).toBeVisible();
  await decisions.getByRole('button', { name: /^Approve/ }).tap();
  await expect(changes.getByTestId('decision-notice')).toContainText('kept on this device');
  const kept = page.getByTestId('device-pending');
  await expect(kept).toHaveAttribute('data-waiting', '2');
  await page.screenshot({ path: path.join(artifacts, 'phone-offline.png') });

  // Still offline, the app opened again (the service worker keeps the shell; the page kept
  // the views and the decisions): the inbox reads, the decisions still wait.
  await page.goto(`${demo.base}/#/inbox`);
  await page.reload();
  await expect(page.getByTestId('view-inbox').getByTestId('row').first()).toBeVisible();
  await expect(page.getByTestId('offline-banner')).toContainText('No connection');
  await expect(kept).toHaveAttribute('data-waiting', '2');
  await page.screenshot({ path: path.join(artifacts, 'phone-offline-reopened.png') });

  // Back online: both sent, each applied exactly once.
  await page.context().setOffline(false);
  await expect(kept).toHaveCount(0);
  const { actions } = await get<{ actions: { kind: string; target: string; state: string }[] }>('/api/outbox');
  const approvals = actions.filter((a) => a.kind === 'approve' && a.target === flaky);
  expect(approvals, 'the offline approval queued once').toHaveLength(1);
  const { entries } = await get<{ entries: { action: string; target: string }[] }>('/api/audit');
  expect(entries.filter((e) => e.action === 'release approve' && e.target === releaseId), 'the release approved once').toHaveLength(1);
  const { releases: all } = await get<{ releases: { id: string; state: string }[] }>('/api/releases');
  expect(all.find((r) => r.id === releaseId)?.state).toBe('approved');

  // The answer lost on the way back (the request reached the server, the phone heard nothing):
  // kept with its key and signature, sent again, still one decision.
  await page.getByTestId('nav-changes').tap();
  const third = rows.find((r) => r.change.state === 'open' && r.change.id !== flaky && !/rate-limiting|Fix flaky/.test(r.change.title + r.change.id));
  expect(third, 'another open change to approve').toBeTruthy();
  await page.route('**/api/changes/*/actions', async (route) => {
    await route.fetch();
    await route.abort('connectionreset');
  });
  await changes.getByTestId('row').filter({ hasText: third!.change.title }).first().tap();
  await decisions.getByRole('button', { name: /^Approve/ }).tap();
  await expect(changes.getByTestId('decision-notice')).toContainText('kept on this device');
  await page.unroute('**/api/changes/*/actions');
  await page.reload();
  await expect(page.getByTestId('device-pending')).toHaveCount(0);
  const after = await get<{ actions: { kind: string; target: string }[] }>('/api/outbox');
  expect(after.actions.filter((a) => a.kind === 'approve' && a.target === third!.change.id), 'the lost-answer approval queued once').toHaveLength(1);

  // Every decision the phone took carries its signature, and the log's check proves it.
  const audit = await get<{
    entries: { action: string; target: string; device_signature: string }[];
    integrity: { problems: unknown[]; devices: { name: string; decisions: number }[] };
  }>('/api/audit');
  const signedBy = (action: string, target: string) =>
    audit.entries.filter((e) => e.action === `${action} signed on device` && e.target === target && e.device_signature);
  expect(signedBy('approve', flaky)).toHaveLength(1);
  expect(signedBy('approve', third!.change.id)).toHaveLength(1);
  expect(signedBy('release_approve', releaseId!)).toHaveLength(1);
  expect(audit.integrity.problems).toEqual([]);
  expect(audit.integrity.devices).toEqual([{ name: "Ana's phone", decisions: 4, fingerprint: expect.any(String) }]);
  await desk.close();

  expect(problems, problems.join('\n')).toEqual([]);
});
