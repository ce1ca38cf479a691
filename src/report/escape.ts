/**
 * Text made safe for HTML, in a module of its own: what builds a report section imports it
 * without loading the chart renderer (vega, half a second), which only writing a report needs.
 */

/** Text made safe for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
