import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AdamantError } from '@adamant/core';

export interface Asset {
  body: Buffer;
  contentType: string;
}

/** The dashboard's own files, beside src/ and dist/ in the package (see package.json's "files"). */
const dashboardDir = new URL('../../dashboard/', import.meta.url);
const resolve = createRequire(import.meta.url).resolve;

/** URL path → file: the page, its script and style, and uPlot from its package. Nothing else can be read. */
const FILES: Record<string, { file: () => string; contentType: string }> = {
  '/': { file: () => fileURLToPath(new URL('index.html', dashboardDir)), contentType: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: () => fileURLToPath(new URL('dashboard.js', dashboardDir)), contentType: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: () => fileURLToPath(new URL('dashboard.css', dashboardDir)), contentType: 'text/css; charset=utf-8' },
  '/uPlot.iife.min.js': { file: () => resolve('uplot/dist/uPlot.iife.min.js'), contentType: 'text/javascript; charset=utf-8' },
  '/uPlot.min.css': { file: () => resolve('uplot/dist/uPlot.min.css'), contentType: 'text/css; charset=utf-8' },
};

/**
 * The dashboard's static files, served from the package with no internet: read once when first
 * asked for, then kept (a few hundred KB at most).
 */
export class DashboardAssets {
  private readonly cache = new Map<string, Asset>();

  /** Whether `path` is one of the dashboard's files. */
  has(path: string): boolean {
    return Object.hasOwn(FILES, path);
  }

  /** The file served at `path`; throws naming the file when it cannot be read (a broken install). */
  get(path: string): Asset {
    const cached = this.cache.get(path);
    if (cached) return cached;
    const entry = FILES[path];
    if (!entry) throw new RangeError(`no dashboard file is served at ${path}`);
    const file = entry.file();
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch (err) {
      throw new AdamantError('E_INTERNAL', `cannot read the dashboard's ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}); reinstall @adamant/coordinator`, { cause: err });
    }
    const asset = { body, contentType: entry.contentType };
    this.cache.set(path, asset);
    return asset;
  }
}
