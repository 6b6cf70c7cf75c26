// The view library, bundled locally (preact + htm from node_modules through /vendor/, see
// routes/vendor.ts and the import map in index.html): no CDN, no build step.
import { h, render, Fragment } from 'preact';
import { useState, useEffect, useRef, useMemo, useCallback } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);
export { h, render, Fragment, useState, useEffect, useRef, useMemo, useCallback };
