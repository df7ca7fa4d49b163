// A dashboard's status line never gets shorter while the page is open (until the window is
// resized). Its message changes with every move, and when it wraps onto one line more or one
// line fewer, everything below it moves: Chromium then lays out, paints and rasterises the rest
// of the page again. On lesson 05 that was 20-35 ms more of the browser's CPU on a student's first
// step (the line grows from one line to two) and again whenever it shrank back; lesson 06's
// status shrank and grew as "frozen blocks" moved (RESULTS.md, "Classroom load"). The dashboards
// also reserve the lines their longest message needs (Dashboard.status_lines, for JupyterLab
// too); this catches what a narrower window wraps further.
//
// Each status line's text box is found as it is first rendered (the CSS animation
// "mtlviz-status-seen", declared in the template's style, starts then: no watching of the whole
// document), and a ResizeObserver raises its min-height to the tallest it has been.
(() => {
  const tallest = new Map();  // element -> its tallest content height so far, px
  const observer = new ResizeObserver(entries => {
    for (const entry of entries) {
      const box = entry.contentBoxSize && entry.contentBoxSize[0];
      const height = box ? box.blockSize : entry.contentRect.height;
      if (height > (tallest.get(entry.target) || 0)) {
        tallest.set(entry.target, height);
        entry.target.style.minHeight = `${height}px`;
      }
    }
  });
  document.addEventListener('animationstart', event => {
    if (event.animationName !== 'mtlviz-status-seen' || tallest.has(event.target)) return;
    tallest.set(event.target, 0);
    observer.observe(event.target);
  });
  // A wider window may fit the message on fewer lines: measure afresh.
  window.addEventListener('resize', () => {
    for (const element of tallest.keys()) {
      observer.unobserve(element);
      if (!element.isConnected) {
        tallest.delete(element);
        continue;
      }
      element.style.minHeight = '';
      tallest.set(element, 0);
      observer.observe(element);  // reports the element's size now
    }
  });
})();
