/**
 * True when focus sits where no user put it: on the document (its element was
 * removed or disabled) or on one of `left`, the control that started what just
 * ended. Views move focus to their new content only then, never away from a
 * control the user went to meanwhile.
 */
export function focusLost(...left: (Element | null)[]): boolean {
  const active = document.activeElement;
  return active === null || active === document.body || left.includes(active);
}
