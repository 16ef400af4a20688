// How the canvas fits its view: one set of fit options (the initial fit, the toolbar's Fit, a re-fit), and when
// a change of the canvas's size re-fits it (the learning monitor docking or undocking, the messages panel).

/** fitView's options everywhere the editor fits the whole workflow. */
export const FIT = { padding: 0.15, maxZoom: 1.2 } as const;

export interface Rect { x: number; y: number; width: number; height: number }
export interface Viewport { x: number; y: number; zoom: number }

/** Whether the nodes' bounds (flow coordinates) lay wholly inside a pane of `size` (screen pixels) under the
 * viewport, give or take `slack` pixels. A resize re-fits only a view that showed the whole workflow, so a
 * user who zoomed into one part keeps it. */
export function wholeGraphVisible(bounds: Rect, vp: Viewport, size: { w: number; h: number }, slack = 8): boolean {
  if (!bounds.width && !bounds.height) return true;
  const left = bounds.x * vp.zoom + vp.x;
  const top = bounds.y * vp.zoom + vp.y;
  const right = (bounds.x + bounds.width) * vp.zoom + vp.x;
  const bottom = (bounds.y + bounds.height) * vp.zoom + vp.y;
  return left >= -slack && top >= -slack && right <= size.w + slack && bottom <= size.h + slack;
}
