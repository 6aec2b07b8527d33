#!/usr/bin/env node
// Copies the web interface's static files (html, css, images) into dist/web/static; the client
// scripts are compiled there separately by `tsc -p src/web/client/tsconfig.json`.
import { cpSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const from = join(import.meta.dirname, '..', 'src', 'web', 'static');
const to = join(import.meta.dirname, '..', 'dist', 'web', 'static');
// Dot-files are never served, so they are not shipped either.
const visible = (src) =>
  !relative(from, src)
    .split(sep)
    .some((s) => s.startsWith('.'));
cpSync(from, to, { recursive: true, filter: visible });
