/**
 * Debian's Chromium driven by playwright-core: never a downloaded browser.
 * Tests skip (saying why) when /usr/bin/chromium is missing.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM_PATH);
export const noChromiumReason = `${CHROMIUM_PATH} is missing (apt-get install chromium); inspector browser tests skipped`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');
export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

/** Installed before any page script: records every text `#lifecycle-state` ever holds. */
export const LABEL_RECORDER = `
  window.__labels = [];
  const record = () => {
    const el = document.getElementById('lifecycle-state');
    if (!el) return;
    const text = el.textContent;
    const last = window.__labels[window.__labels.length - 1];
    if (!last || last.text !== text) window.__labels.push({ text, at: Date.now() });
  };
  new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true });
`;
