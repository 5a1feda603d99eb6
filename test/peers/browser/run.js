#!/usr/bin/env node
// run.js drives Debian's chromium through one browser scenario for unspoof's web tests, and
// checks every page it is asked to with axe-core.
//
//   node run.js SCENARIO.json
//
// The scenario (written by the Go helper web/webtest, or by hand):
//
//   {
//     "baseURL": "http://127.0.0.1:8080",   // where relative "goto" paths point
//     "outDir": "/tmp/artifacts",            // screenshots go here (default: beside the JSON)
//     "chromium": "/usr/bin/chromium",       // default: $CHROMIUM, then /usr/bin/chromium
//     "axeEveryPage": true,                  // axe every page a step lands on
//     "strictResources": true,               // a sub-resource (CSS, font, image) that fails to
//                                            // load, or a CSP refusal, fails the step
//     "timeoutMs": 15000,                    // waiting for an element, text or URL (default
//                                            // 15 s); page loads get at least 30 s
//     "steps": [
//       {"context": {"javascript": false, "viewport": [320, 640]}},  // a new, empty context
//       {"goto": "/report", "viewport": [320, 640], "javascript": false},
//       {"fill": {"label": "Phone number that received the call", "value": "07911 123456"}},
//       {"select": {"label": "How did you pay?", "value": "Bank transfer"}},
//       {"check": "I agree"},                // a checkbox or radio, by its label
//       {"click": "Continue"},               // a button or link, by its accessible name
//       {"expectText": "Check your answers"},
//       {"expectURL": "/report/sent"},       // path (and query, if given), or a whole URL
//       {"expectStatus": 403},               // of the last page navigated to
//       {"capture": {"name": "report-number", "selector": ".govuk-panel__body strong"}},
//       {"axe": true},
//       {"screenshot": "report-sent"}        // outDir/report-sent.png, the full page
//     ]
//   }
//
// fill, select, check and click match label text and names exactly (after trimming); add
// "exact": false to a step to match a case-insensitive substring instead.
// A "goto" whose "javascript" differs from the current context's opens a new context (cookies
// are not carried over); its "viewport" resizes the current page.
//
// Output: one JSON line per step on stdout, {"step": n, "ok": true|false, "action": …, …},
// then {"captures": {…}, "ok": …}. The first failing step stops the run; its line carries
// "error" (and "violations" for axe), and a screenshot step-N-failed.png is taken. Exit code
// 0 only when every step passed.
//
// axe-core is evaluated through the DevTools protocol (page.evaluate), which a page's
// Content-Security-Policy does not govern, so pages keep their real CSP (no bypassCSP).
// A page in a JavaScript-off context cannot run axe (the page's timers never fire), so its DOM
// is copied into a scratch page with JavaScript on and scripts blocked by CSP, at the same URL
// and viewport (the same stylesheets load), and axe runs there.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// Without these, chromium on a machine with no route to the internet waits on network
// services at start-up. playwright's launch() gives each browser a fresh temporary
// --user-data-dir of its own and removes it on close.
const LAUNCH_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const ACTIONS = ['context', 'goto', 'fill', 'select', 'check', 'click', 'expectText', 'expectURL',
  'expectStatus', 'capture', 'axe', 'screenshot'];

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const normalise = (s) => String(s).replace(/\s+/g, ' ').trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const within = (ms, what, promise) => Promise.race([promise, new Promise((_, reject) =>
  setTimeout(() => reject(new StepError(`${what}: no answer in ${ms} ms`)), ms).unref())]);

class StepError extends Error {
  constructor(message, extra) { super(message); this.extra = extra || {}; }
}

class Runner {
  constructor(browser, scenario, outDir) {
    this.browser = browser;
    this.sc = scenario;
    this.outDir = outDir;
    this.timeout = scenario.timeoutMs || 15000;
    this.captures = {};
    this.ctx = null; // the current context and its one page
    this.page = null;
    this.js = true;
    this.viewport = null; // null: playwright's default (1280×720)
    this.status = 0; // HTTP status of the last main-frame navigation
    this.navSeq = 0; // main-frame navigations so far …
    this.axedSeq = -1; // … and the one axe last checked
    this.problems = []; // failed sub-resources and CSP refusals not yet reported
    this.scratch = null; // JavaScript-on context for axe runs of JavaScript-off pages
  }

  async newContext({ javascript = true, viewport = null } = {}) {
    if (this.ctx) await this.ctx.close();
    this.js = javascript !== false;
    this.viewport = viewport ? { width: viewport[0], height: viewport[1] } : null;
    this.ctx = await this.browser.newContext({
      javaScriptEnabled: this.js,
      ...(this.viewport && { viewport: this.viewport }),
    });
    const page = await this.ctx.newPage();
    page.setDefaultTimeout(this.timeout);
    page.setDefaultNavigationTimeout(Math.max(this.timeout, 30000)); // loads are slow on a busy machine
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) this.navSeq++; });
    page.on('response', (r) => {
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) this.status = r.status();
      else if (r.status() >= 400) this.problems.push(`${r.status()} ${r.url()}`);
    });
    page.on('requestfailed', (r) => this.problems.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) this.problems.push(`CSP: ${m.text()}`);
    });
    this.page = page;
    this.axedSeq = this.navSeq; // about:blank needs no axe
  }

  // run executes the steps in order and stops at the first failure; it returns whether all passed.
  async run() {
    for (const [i, step] of (this.sc.steps || []).entries()) {
      const n = i + 1;
      const started = Date.now();
      const action = ACTIONS.filter((a) => a in step);
      const line = { step: n, ok: true, action: action[0] };
      try {
        if (action.length !== 1) throw new StepError(`a step needs exactly one of ${ACTIONS.join(', ')}: ${JSON.stringify(step)}`);
        Object.assign(line, await this[action[0]](step[action[0]], step));
        if (this.sc.axeEveryPage && this.page && this.navSeq !== this.axedSeq) {
          await this.runAxe(); // fails the step that led to the page
          line.axe = 'passed';
        }
        const problems = this.problems.splice(0); // since the last step (a late font counts too)
        if (this.sc.strictResources && problems.length) {
          throw new StepError(`page resources failed:\n  ${problems.join('\n  ')}`, { resources: problems });
        }
      } catch (err) {
        Object.assign(line, { ok: false, error: String(err?.message ?? err).replace(/\u001b\[\d+m/g, ''), ...err?.extra });
      }
      if (this.page) line.url = this.page.url();
      line.ms = Date.now() - started;
      if (!line.ok && this.page) {
        const shot = path.join(this.outDir, `step-${n}-failed.png`);
        try { await this.page.screenshot({ path: shot, fullPage: true, timeout: 5000 }); line.screenshot = shot; } catch {}
      }
      emit(line);
      if (!line.ok) return false;
    }
    return true;
  }

  current() {
    if (!this.page) throw new StepError('no page yet: start with a "goto" step');
    return this.page;
  }

  // ---- the steps; each returns extra fields for its output line ----

  async context(opts) {
    await this.newContext(opts || {});
    return { javascript: this.js, viewport: this.viewport };
  }

  async goto(where, step) {
    if (!this.ctx || ('javascript' in step && (step.javascript !== false) !== this.js)) {
      await this.newContext({ javascript: step.javascript, viewport: step.viewport || (this.viewport && [this.viewport.width, this.viewport.height]) });
    } else if (step.viewport) {
      this.viewport = { width: step.viewport[0], height: step.viewport[1] };
      await this.page.setViewportSize(this.viewport);
    }
    const resp = await this.page.goto(new URL(where, this.sc.baseURL).href, { waitUntil: 'load' });
    if (resp) this.status = resp.status();
    return { status: this.status, javascript: this.js };
  }

  async fill({ label, value }, step) {
    await this.current().getByLabel(label, { exact: step.exact !== false }).fill(String(value));
  }

  async select({ label, value }, step) {
    await this.current().getByLabel(label, { exact: step.exact !== false }).selectOption(String(value));
  }

  async check(label, step) {
    await this.current().getByLabel(label, { exact: step.exact !== false }).check();
  }

  async click(name, step) {
    const page = this.current();
    const exact = step.exact !== false;
    await page.getByRole('button', { name, exact }).or(page.getByRole('link', { name, exact })).click();
    await page.waitForLoadState('load'); // a form post or link lands here
    return { status: this.status };
  }

  async expectText(text) {
    const want = normalise(text);
    let body = '';
    for (const deadline = Date.now() + this.timeout; Date.now() < deadline; await sleep(100)) {
      body = normalise(await this.current().locator('body').innerText());
      if (body.includes(want)) return {};
    }
    throw new StepError(`text not found: ${JSON.stringify(want)}\npage text: ${body.slice(0, 2000)}`);
  }

  async expectURL(want) {
    const page = this.current();
    const matches = () => {
      if (!want.startsWith('/')) return page.url() === want;
      const u = new URL(page.url());
      return (want.includes('?') ? u.pathname + u.search : u.pathname) === want;
    };
    for (const deadline = Date.now() + this.timeout; Date.now() < deadline; await sleep(100)) {
      if (matches()) return {};
    }
    throw new StepError(`URL is ${page.url()}, want ${want}`);
  }

  async expectStatus(want) {
    if (this.status !== want) throw new StepError(`status of the last navigation is ${this.status}, want ${want}`);
    return { status: this.status };
  }

  async capture({ name, selector }) {
    const value = normalise(await this.current().locator(selector).first().innerText());
    this.captures[name] = value;
    return { name, value };
  }

  async axe() {
    await this.runAxe();
    return {};
  }

  async screenshot(name) {
    const file = path.join(this.outDir, `${String(name).replace(/[^\w.-]+/g, '_')}.png`);
    await this.current().screenshot({ path: file, fullPage: true });
    return { file };
  }

  // ---- axe ----

  // runAxe checks the current page and throws a StepError listing every violation.
  async runAxe() {
    const page = this.current();
    await page.waitForLoadState('load');
    this.axedSeq = this.navSeq;
    const target = this.js ? page : await this.scratchCopy(page);
    let violations;
    try {
      await target.evaluate(AXE_SOURCE);
      violations = await within(Math.max(this.timeout, 60000), 'axe', target.evaluate(() =>
        window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
          id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
          nodes: v.nodes.slice(0, 10).map((n) => ({
            target: n.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : String(t))),
            html: n.html.slice(0, 300), summary: n.failureSummary,
          })),
        })))));
    } finally {
      if (target !== page) await target.close();
    }
    if (violations.length === 0) return;
    const text = violations.map((v) => `${v.id} (${v.impact}): ${v.help} <${v.helpUrl}>\n` +
      v.nodes.map((nd) => `    at ${nd.target.join(', ')}: ${nd.html}\n      ${(nd.summary || '').replace(/\n/g, '\n      ')}`).join('\n'));
    throw new StepError(`axe: ${violations.length} violation(s) on ${page.url()}:\n  ${text.join('\n  ')}`,
      { violations });
  }

  // scratchCopy serves a JavaScript-off page's DOM, at the same URL and viewport, to a page with
  // JavaScript on (so that axe's timers run) but every page script refused by CSP.
  async scratchCopy(page) {
    const html = await page.content();
    const url = page.url().replace(/#.*$/, '');
    if (!this.scratch) this.scratch = await this.browser.newContext({ javaScriptEnabled: true });
    const copy = await this.scratch.newPage();
    const size = page.viewportSize();
    if (size) await copy.setViewportSize(size);
    copy.setDefaultTimeout(Math.max(this.timeout, 30000));
    await copy.route((u) => u.href === url, (route) => route.fulfill({
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "script-src 'none'" },
      body: html,
    }), { times: 1 });
    await copy.goto(url, { waitUntil: 'load' });
    return copy;
  }
}

async function main() {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node run.js SCENARIO.json\n');
    process.exit(2);
  }
  const scenario = JSON.parse(fs.readFileSync(file, 'utf8'));
  const outDir = scenario.outDir || path.dirname(path.resolve(file));
  fs.mkdirSync(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: scenario.chromium || process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: LAUNCH_ARGS,
    timeout: 60000,
  });
  const runner = new Runner(browser, scenario, outDir);
  let ok = false;
  try {
    ok = await runner.run();
  } finally {
    emit({ captures: runner.captures, ok });
    await browser.close();
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  emit({ step: 0, ok: false, action: 'launch', error: String(err && err.stack || err) });
  process.exitCode = 1;
});
